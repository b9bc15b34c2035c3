"""Developer machine and `make run`: debug on, secrets generated once under .data/."""

import json
import secrets

from cryptography.fernet import Fernet

from config.env import env
from config.paths import DATA_DIR


def _local_secrets() -> dict:
    # Generated on first start and kept out of git, so no secret is ever fixed in code.
    path = DATA_DIR / "local-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


_secrets = _local_secrets()
env.ENVIRON.setdefault("DEBUG", "true")
env.ENVIRON.setdefault("FIELD_ENCRYPTION_KEYS", _secrets["FIELD_ENCRYPTION_KEY"])

from config.settings.base import *  # noqa: E402,F403

SECRET_KEY = env.str("SECRET_KEY", default=_secrets["SECRET_KEY"])
