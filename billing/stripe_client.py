"""The one place that talks to Stripe's HTTP API.

Every call goes through ``client()``, which configures the ``stripe`` library from
``settings.STRIPE`` at call time (so ``STRIPE_API_BASE`` can point it at a local test server)
and every write passes an idempotency key, so a retried request never creates twice.
Never call these functions while holding a row lock: they block on the network.
"""

from __future__ import annotations

import stripe
from django.conf import settings

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeUnavailable(RuntimeError):
    """No secret key is configured: Stripe checkout is switched off."""


def is_configured() -> bool:
    return bool(settings.STRIPE.get("secret_key"))


def client():
    """The ``stripe`` module, configured from settings. Raises StripeUnavailable without a key."""
    config = settings.STRIPE
    if not config.get("secret_key"):
        raise StripeUnavailable("Stripe is not configured (no STRIPE_SECRET_KEY).")
    stripe.api_key = config["secret_key"]
    stripe.api_base = config.get("api_base") or DEFAULT_API_BASE
    # Our own tasks retry with backoff; the library's own retries would hide failures.
    stripe.max_network_retries = 0
    return stripe


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str):
    return client().Customer.create(
        email=email, name=name or None, metadata={"user_id": str(user_id)},
        idempotency_key=idempotency_key,
    )


def create_checkout_session(*, params: dict, idempotency_key: str):
    return client().checkout.Session.create(**params, idempotency_key=idempotency_key)


def create_refund(*, payment_intent: str, amount: int, reason: str | None, metadata: dict,
                  idempotency_key: str):
    kwargs = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata}
    if reason:
        kwargs["reason"] = reason
    return client().Refund.create(**kwargs, idempotency_key=idempotency_key)


def retrieve_payment_intent(payment_intent_id: str, *, expand: list[str] | None = None) -> dict:
    return client().PaymentIntent.retrieve(payment_intent_id, expand=expand or []).to_dict()


def retrieve_payment_method(payment_method_id: str) -> dict:
    return client().PaymentMethod.retrieve(payment_method_id).to_dict()


def list_refunds_for_charge(charge_id: str) -> list[dict]:
    return client().Refund.list(charge=charge_id, limit=100).to_dict()["data"]
