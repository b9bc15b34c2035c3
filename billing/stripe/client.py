"""The one place that talks to Stripe's HTTP API.

``configure()`` sets the ``stripe`` library's key, base URL and API version from settings;
it runs at process start (BillingConfig.ready), so every call, dj-stripe's included, goes to
``STRIPE_API_BASE`` in ``STRIPE_API_VERSION``. ``client()`` applies it again at call time
(settings can change under tests). Every write passes an idempotency key, so a retried
request never creates twice. Never call these functions while holding a row lock: they block
on the network.
"""

from __future__ import annotations

from importlib import import_module

import stripe
from django.conf import settings
from stripe._object_classes import OBJECT_CLASSES

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeUnavailable(RuntimeError):
    """No secret key is configured: Stripe checkout is switched off."""


def is_configured() -> bool:
    return bool(settings.STRIPE.get("secret_key"))


def api_version() -> str:
    return settings.STRIPE_API_VERSION


def configure():
    """Point the ``stripe`` library at ``settings``: key, base URL and pinned API version.
    Without a key the base URL and version are still set, so nothing can reach another host
    by default."""
    config = settings.STRIPE
    stripe.api_key = config.get("secret_key") or None
    stripe.api_base = config.get("api_base") or DEFAULT_API_BASE
    stripe.api_version = api_version()
    # Our own tasks retry with backoff; the library's own retries would hide failures.
    stripe.max_network_retries = 0
    return stripe


def client():
    """The ``stripe`` module, configured from settings. Raises StripeUnavailable without a key."""
    if not settings.STRIPE.get("secret_key"):
        raise StripeUnavailable("Stripe is not configured (no STRIPE_SECRET_KEY).")
    return configure()


def retrieve_object(kind: str, object_id: str) -> dict:
    """Any Stripe object by its ``object`` name (``"subscription"``, ``"charge"``...), read at
    the pinned API version. Raises LookupError for a kind stripe-python cannot retrieve."""
    entry = OBJECT_CLASSES.get(kind)
    if entry is None:
        raise LookupError(kind)
    cls = getattr(import_module(entry[0]), entry[1]) if isinstance(entry, tuple) else entry
    if not hasattr(cls, "retrieve"):
        raise LookupError(kind)
    client()
    return cls.retrieve(object_id).to_dict()


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str):
    return client().Customer.create(
        email=email,
        name=name or None,
        metadata={"user_id": str(user_id)},
        idempotency_key=idempotency_key,
    )


def create_checkout_session(*, params: dict, idempotency_key: str):
    return client().checkout.Session.create(**params, idempotency_key=idempotency_key)


def create_refund(
    *,
    payment_intent: str | None,
    amount: int,
    reason: str | None,
    metadata: dict,
    idempotency_key: str,
):
    kwargs = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata}
    if reason:
        kwargs["reason"] = reason
    return client().Refund.create(**kwargs, idempotency_key=idempotency_key)


def retrieve_payment_intent(payment_intent_id: str, *, expand: list[str] | None = None) -> dict:
    return client().PaymentIntent.retrieve(payment_intent_id, expand=expand or []).to_dict()


def retrieve_payment_method(payment_method_id: str) -> dict:
    return client().PaymentMethod.retrieve(payment_method_id).to_dict()


def list_invoice_payments(
    *, invoice: str | None = None, payment_intent: str | None = None
) -> list[dict]:
    """The payments of an invoice, or the invoice payment made by a PaymentIntent."""
    params = {"limit": 100}
    if invoice:
        params["invoice"] = invoice
    if payment_intent:
        params["payment"] = {"type": "payment_intent", "payment_intent": payment_intent}
    return client().InvoicePayment.list(**params).to_dict()["data"]


def retrieve_checkout_session(session_id: str) -> dict:
    return client().checkout.Session.retrieve(session_id).to_dict()


def list_refunds_for_charge(charge_id: str) -> list[dict]:
    return client().Refund.list(charge=charge_id, limit=100).to_dict()["data"]


# --- subscriptions (Billing II) ----------------------------------------------------------------


def retrieve_subscription(subscription_id: str) -> dict:
    return client().Subscription.retrieve(subscription_id).to_dict()


def update_subscription(subscription_id: str, *, idempotency_key: str, **params) -> dict:
    return (
        client()
        .Subscription.modify(subscription_id, **params, idempotency_key=idempotency_key)
        .to_dict()
    )


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> dict:
    return client().Subscription.cancel(subscription_id, idempotency_key=idempotency_key).to_dict()


def retrieve_invoice(invoice_id: str) -> dict:
    return client().Invoice.retrieve(invoice_id).to_dict()


def void_invoice(invoice_id: str, *, idempotency_key: str) -> dict:
    return client().Invoice.void_invoice(invoice_id, idempotency_key=idempotency_key).to_dict()


def preview_invoice(
    *, customer: str, subscription: str, items: list[dict], proration_date: int
) -> dict:
    """Stripe's invoice preview for changing ``subscription`` to ``items`` now."""
    return (
        client()
        .Invoice.create_preview(
            customer=customer,
            subscription=subscription,
            subscription_details={
                "items": items,
                "proration_behavior": "always_invoice",
                "proration_date": proration_date,
            },
        )
        .to_dict()
    )


def create_portal_session(*, customer: str, return_url: str) -> dict:
    return (
        client().billing_portal.Session.create(customer=customer, return_url=return_url).to_dict()
    )


def create_coupon(*, idempotency_key: str, **params) -> dict:
    return client().Coupon.create(**params, idempotency_key=idempotency_key).to_dict()


def list_products():
    """Every Stripe product (auto-paginated iterator of dicts)."""
    for product in client().Product.list(limit=100).auto_paging_iter():
        yield product.to_dict()


def list_prices():
    for price in client().Price.list(limit=100).auto_paging_iter():
        yield price.to_dict()


def create_product(*, idempotency_key: str, **params) -> dict:
    return client().Product.create(**params, idempotency_key=idempotency_key).to_dict()


def update_product(product_id: str, *, idempotency_key: str, **params) -> dict:
    return client().Product.modify(product_id, **params, idempotency_key=idempotency_key).to_dict()


def create_price(*, idempotency_key: str, **params) -> dict:
    return client().Price.create(**params, idempotency_key=idempotency_key).to_dict()


def list_events(*, created_gte: int):
    for event in client().Event.list(created={"gte": created_gte}, limit=100).auto_paging_iter():
        yield event.to_dict()
