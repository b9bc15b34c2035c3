"""gunicorn for the web processes: ``gunicorn -c deploy/gunicorn.conf.py config.wsgi``.

Run as many hosts (or containers) of it as the load needs behind a load balancer: the
processes keep nothing between requests (sessions, cache and queue are in PostgreSQL and
Redis). The command line and ``GUNICORN_CMD_ARGS`` override anything here. This file is
gunicorn's, not Django's: it reads the few variables gunicorn's own docs name (``PORT``,
``WEB_CONCURRENCY``) and ``FORWARDED_ALLOW_IPS``.
"""

import multiprocessing
import os

# Every interface of the host or container: the load balancer connects from outside.
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
# Sync workers, one request each: (2 x cores) + 1 is gunicorn's starting point and what the
# benchmarks measured (README, Benchmarks). Each holds one database connection (DB_CONN_MAX_AGE
# keeps it between requests): workers x web hosts must fit PostgreSQL's max_connections, or
# PgBouncer's pool (README, Scaling).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"
# A request still running after this is killed and logged; ours answer in well under a second
# (webhooks only verify and store; slow work is queued for Celery).
timeout = 30
# SIGTERM (a deploy): workers finish their request first, up to this long.
graceful_timeout = 25
# A worker is replaced after this many requests (jittered so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200
# The load balancer terminates TLS and sets X-Forwarded-For/-Proto; Django trusts the proto
# header (SECURE_PROXY_SSL_HEADER), gunicorn only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# Worker heartbeat files on a RAM disk (gunicorn's advice): a container's /tmp may be an
# overlay filesystem that stalls. Only gunicorn's own processes use them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
