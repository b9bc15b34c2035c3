"""Production: every secret from the environment, no defaults; HTTPS everywhere.

Production runs on its real services: ``DATABASE_URL`` and ``REDIS_URL`` are required, so the
embedded PostgreSQL server and the file broker and cache of local and test settings (the
fallbacks in base.py when they are unset) can never start here. ``check --deploy`` also
fails while the static files manifest is missing (config.checks).
"""

from config.env import env, require

env.ENVIRON.setdefault("DEBUG", "false")
env.ENVIRON.setdefault("LOG_FORMAT", "json")  # one JSON object per line (config.logs)
require("DATABASE_URL", "production settings never start the embedded PostgreSQL server")
require("REDIS_URL", "production settings never use the file broker and cache")
require("FIELD_ENCRYPTION_KEYS")

from config.settings.base import *  # noqa: E402,F403
from config.settings.base import DEBUG  # noqa: E402

if DEBUG:
    raise RuntimeError("DEBUG must be off in production settings")

SECRET_KEY = require("SECRET_KEY")
# Keep database connections between requests (bench: webhook acks 31/s with 0, 100/s with
# 60); a connection that died meanwhile is checked and replaced before use.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
