"""pytest: the same PostgreSQL stack, fast hashing, tasks run in-process."""

import os
import socket

from cryptography.fernet import Fernet

from config.env import env
from core.dbroles import log_in_as_owner

# Each test run gets fresh keys: nothing may depend on a key's value.
env.ENVIRON.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
env.ENVIRON["DEBUG"] = "false"


def _free_port() -> int:

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Google and GitHub sign-in are on, against the fake OAuth provider the social sign-in tests
# start on this port (social_signin/tests/fake_provider.py).
env.ENVIRON.setdefault("FAKE_OAUTH_PORT", str(_free_port()))
_fake_oauth = f"http://127.0.0.1:{env.ENVIRON['FAKE_OAUTH_PORT']}"
for _prefix in ("GOOGLE", "GITHUB"):
    env.ENVIRON.setdefault(f"{_prefix}_CLIENT_ID", f"test-{_prefix.lower()}-client")
    env.ENVIRON.setdefault(f"{_prefix}_CLIENT_SECRET", f"test-{_prefix.lower()}-secret")
env.ENVIRON.setdefault("SOCIAL_GOOGLE_BASE_URL", _fake_oauth)
env.ENVIRON.setdefault("SOCIAL_GITHUB_URL", _fake_oauth)

from config.settings.base import *  # noqa: E402,F403
from config.settings.base import DATABASES  # noqa: E402

SECRET_KEY = "test-only-secret-key-not-for-any-deployment"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Off: tests change catalog rows with factories, which do not invalidate it; the cache's own
# tests turn it on (catalog/tests/test_ratings_and_public_reads.py).
CATALOG_PUBLIC_CACHE_SECONDS = 0
# Every consume reads which operations need an entitlement (no per-process memory between tests).
CREDITS_ENTITLEMENTS_CACHE_SECONDS = 0
# Limits no test reaches by accident (the suite's clients all come from one IP); the rate-limit
# tests set realistic rates themselves (config/tests/test_throttling.py).
RATE_LIMITS = {scope: "100000/min" for scope in RATE_LIMITS}  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Parallel runs (several developers or helpers on one server) each get their own database.
DATABASES["default"]["TEST"] = {"NAME": "test_billing" + os.environ.get("TEST_DB_SUFFIX", "")}
# pytest-django creates and migrates the test database as the schema's owner; the root
# conftest then makes every connection act as the application's role (core.dbroles).
log_in_as_owner(DATABASES["default"])
# The webhook tests deliver to receivers on http://127.0.0.1.
WEBHOOKS_OUT_REQUIRE_HTTPS = False
WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES = True
FILES_STORAGE = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
