"""Settings for the benchmarks: the local ones with DEBUG off (as production runs), and a
broker folder and cache of their own, so nothing a bench queues or caches reaches the
developer's `make run` (whose worker would otherwise pick up the bench's webhook tasks).

The broker stays kombu's filesystem transport whatever REDIS_URL says: tasks a bench queues
(webhook processing) are only written, never run, and the folder is emptied after each suite.
"""

from bench.redis_check import redis_answers
from config.env import env
from config.paths import DATA_DIR
from core.dbroles import log_in_as_owner

env.ENVIRON["DEBUG"] = "false"

from config.settings.local import *  # noqa: E402,F403

BENCH_DIR = DATA_DIR / "bench"
_queue = BENCH_DIR / "celery" / "queue"
for _folder in (_queue, BENCH_DIR / "celery" / "processed", BENCH_DIR / "celery" / "control"):
    _folder.mkdir(parents=True, exist_ok=True)
CELERY_BROKER_URL = "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(_queue),
    "data_folder_out": str(_queue),
    "processed_folder": str(BENCH_DIR / "celery" / "processed"),
    "control_folder": str(BENCH_DIR / "celery" / "control"),
    "store_processed": False,
}
# The cache production has: Redis (rate-limit counters, API-key entries and settings are read
# and written there on every request), in a Redis database of the bench's own
# (BENCH_REDIS_URL, default the local server's database 13), emptied when each scratch
# database is made, so no value outlives its bench. Without a Redis answering there, a memory
# cache per process, and the table's header says so.
BENCH_REDIS_URL = env.str("BENCH_REDIS_URL", default="redis://127.0.0.1:6379/13")
BENCH_CACHE = "Redis" if redis_answers(BENCH_REDIS_URL) else "memory per process (no Redis)"
if BENCH_CACHE == "Redis":
    CACHES = {
        "default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": BENCH_REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The product's URLs plus the API bench's baseline view (bench.urls).
ROOT_URLCONF = "bench.urls"
# Refused webhooks and the like would otherwise print a line per request under load.
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}  # noqa: F405
# The benchmarks create, clone and drop databases, COPY into and ANALYZE tables: the schema
# owner's work, so this process logs in as the owner (core.dbroles). The servers they start
# get the database's URL.
log_in_as_owner(DATABASES["default"])  # noqa: F405
# The suites drive one API key and one IP far past any real client's rate: limits so high they
# never refuse, while every request still pays for counting (config.throttling).
RATE_LIMITS = {scope: "100000000/min" for scope in RATE_LIMITS}  # noqa: F405
