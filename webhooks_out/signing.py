"""The signature every delivery carries, and how a receiver checks it.

Header ``Billing-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is
HMAC-SHA256(secret, "<t>.<raw body>"): the scheme Stripe uses, so a receiver that already
checks Stripe's signatures needs only the header's name and its own secret."""

import hashlib
import hmac
import time

HEADER = "Billing-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    pass


def sign(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """What a receiver does (the README shows the same in a few lines): parse the header,
    refuse an old timestamp (a replayed request), compare in constant time. Returns the
    timestamp; raises SignatureError."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        raise SignatureError("No timestamp in the signature header") from None
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        raise SignatureError("The signature's timestamp is outside the tolerance")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    given = [
        value
        for key, value in (item.split("=", 1) for item in header.split(",") if "=" in item)
        if key == "v1"
    ]
    if not any(hmac.compare_digest(expected, candidate) for candidate in given):
        raise SignatureError("No signature matches")
    return timestamp
