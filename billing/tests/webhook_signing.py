"""Stripe's webhook events delivered to our endpoint with a valid signature."""

import json

from billing.stripe.signature import sign_header

WEBHOOK_SECRET = "whsec_test_billing_double"
WEBHOOK_URL = "/webhooks/stripe/"


def signed_post(
    client,
    event: dict,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp=None,
    body: bytes | None = None,
    header: str | None = None,
):
    """POST ``event`` to the real webhook URL with Stripe's signature header."""
    body = body if body is not None else json.dumps(event).encode()
    header = (
        header if header is not None else sign_header(secret=secret, body=body, timestamp=timestamp)
    )
    return client.post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
