"""Stripe webhook signature verification (Stripe's documented scheme, checked by hand).

The header is ``t=<unix time>,v1=<hex>[,v1=<hex>...]``; each v1 is HMAC-SHA256 of
``"{t}.{raw body}"`` keyed with the endpoint's signing secret. Any v1 may match (Stripe sends
several while a secret is being rolled). Timestamps older or newer than the tolerance are
refused so a captured delivery cannot be replayed later.
"""

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    pass


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp = None
    signatures = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise SignatureError("The signature timestamp is not a number.") from exc
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("The Stripe-Signature header is missing or malformed.")
    return timestamp, signatures


def compute_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header Stripe would send for ``body``: used by tests and the local double."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={compute_signature(secret=secret, timestamp=timestamp, body=body)}"


def verify_signature(
    *,
    body: bytes,
    header: str,
    secret: str,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureError unless ``header`` proves Stripe signed ``body`` recently."""
    if not secret:
        raise SignatureError("No webhook secret is configured.")
    timestamp, signatures = _parse_header(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("The signature timestamp is outside the tolerance.")
    expected = compute_signature(secret=secret, timestamp=timestamp, body=body)
    # compare_digest over every candidate: no early exit that would leak timing.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise SignatureError("No signature matches the payload.")
