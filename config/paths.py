"""Where the project's files are: the checkout, and ``.data`` for what it writes locally
(the embedded PostgreSQL server, the file broker, caches, demo credentials). Read by the
settings and by the embedded server's module, which must not need the settings' helpers."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"
