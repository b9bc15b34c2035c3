"""The one place that reads the process environment (STYLE rule 7).

Every setting that comes from outside goes through ``env`` here, so a bad value fails at start
with the variable's name instead of somewhere deep in a request.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()


class ConfigurationError(RuntimeError):
    """A setting from the environment is missing or malformed."""


def require(name: str) -> str:
    """Return a variable that has no default in this environment (production secrets)."""
    value = env.str(name, default="")
    if not value:
        raise ConfigurationError(f"{name} must be set in the environment")
    return value


def database_config() -> dict:
    """The default database: ``DATABASE_URL`` when set, else the embedded PostgreSQL server."""
    url = env.str("DATABASE_URL", default="")
    if not url:
        from config.embedded_db import embedded_database_url

        url = embedded_database_url()
    config = environ.Env.db_url_config(url)
    # A Unix-socket URL (postgresql://user@/db?host=/dir) arrives as OPTIONS["host"]; HOST is
    # where Django and tools look for it, so move it there.
    socket_dir = config.get("OPTIONS", {}).pop("host", None)
    if socket_dir and not config.get("HOST"):
        config["HOST"] = socket_dir
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ConfigurationError(
            f"DATABASE_URL must point at PostgreSQL (got engine {config.get('ENGINE')!r})"
        )
    return config


def broker_visibility_timeout() -> int:
    """Seconds Redis waits for a task's ack before redelivering it (``REDIS_VISIBILITY_TIMEOUT``,
    default 2 hours). It bounds how late the task of a killed worker runs again, and must stay
    longer than the longest task time limit and countdown, or long tasks run twice."""
    seconds = env.int("REDIS_VISIBILITY_TIMEOUT", default=2 * 60 * 60)
    if seconds <= 0:
        raise ConfigurationError("REDIS_VISIBILITY_TIMEOUT must be a positive number of seconds")
    return seconds


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
    return {
        "secret_key": secret,
        "publishable_key": publishable,
        "webhook_secret": webhook_secret,
        "api_base": api_base.rstrip("/"),
        "live_mode": secret.startswith(("sk_live_", "rk_live_")),
    }
