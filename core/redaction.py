"""The one rule for keeping secrets out of what we write down: the audit log and the logs.

``redact`` clears values whose name says they are secret (a password, a token, an API key,
a card...). ``redact_text`` is for free text, where only the value itself can give a secret
away: our API keys, Stripe keys and webhook secrets, bearer credentials, ``name=value`` pairs
with a secret name, and card numbers (Luhn-valid runs of 13 to 19 digits). Neither imports
a model, so logging can use them before Django's apps are loaded.
"""

import re
from typing import Any

REDACTED = "[redacted]"
SECRET_WORDS = ("password", "secret", "token", "key", "card", "cvc", "iban")
# Names that contain a secret word but hold nothing secret.
NOT_SECRET = {"prefix"}


def is_secret_name(name: object) -> bool:
    lowered = str(name).lower()
    return lowered not in NOT_SECRET and any(word in lowered for word in SECRET_WORDS)


def redact(values: dict[str, Any] | None) -> dict[str, Any]:
    """Drop secrets from a dict (nested dicts too); values that are not plain become text."""
    if not values:
        return {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if is_secret_name(name):
            clean[name] = REDACTED
        elif isinstance(value, dict):
            clean[name] = redact(value)
        else:
            plain = isinstance(value, str | int | float | bool | None)
            clean[name] = value if plain else str(value)
    return clean


# Each pattern keeps its first group (the public part) and replaces the rest.
_WORDS = "|".join(SECRET_WORDS)
_SECRET_VALUES = [
    re.compile(r"(?<![A-Za-z0-9])(bk_[0-9a-f]{8}_)[A-Za-z0-9_-]{8,}"),  # our API keys
    re.compile(r"(?<![A-Za-z0-9])((?:sk|rk)_(?:test|live)_)[A-Za-z0-9]{4,}"),  # Stripe keys
    re.compile(r"(?<![A-Za-z0-9])(whsec_)[A-Za-z0-9+/=_]{4,}"),  # Stripe webhook secrets
    # Authorization values (but not one of the above, already redacted)
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)(?!\S*\[redacted\])[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?=@)"),  # URL passwords
    # password=..., api_key=... (query strings, key=value log lines)
    re.compile(r"(?i)(\b[\w-]*(?:" + _WORDS + r")[\w-]*=)(?!\[redacted\])[^\s&\"',;}]+"),
    # 'password': '...' and "token": "..." (dict and JSON text)
    re.compile(
        r"(?i)([\"'][\w-]*(?:" + _WORDS + r")[\w-]*[\"']\s*:\s*[\"'])"
        r"(?!\[redacted\])[^\"']+"
    ),
]
_DIGIT_RUN = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?!\w|\.\d)")
# Milli-, micro- and nanosecond timestamps of this century are 13, 16 and 19 digits too.
_EPOCH_SCALE = {13: 1e3, 16: 1e6, 19: 1e9}
_EPOCH_RANGE = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01


def luhn_valid(digits: str) -> bool:
    """The card-number checksum (also what the test suite's secret scan uses)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    scale = _EPOCH_SCALE.get(len(digits))
    if scale and _EPOCH_RANGE[0] <= int(digits) / scale < _EPOCH_RANGE[1]:
        return match.group(0)
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return "[redacted card]"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with every secret value it shows replaced."""
    for pattern in _SECRET_VALUES:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return _DIGIT_RUN.sub(_card, text)
