"""The one place that talks to Stripe's HTTP API.

``configure()`` sets the ``stripe`` library's key, base URL and API version from settings;
it runs at process start (BillingConfig.ready), so every call, dj-stripe's included, goes to
``STRIPE_API_BASE`` in ``STRIPE_API_VERSION``. ``client()`` applies it again at call time
(settings can change under tests). Every write passes an idempotency key, so a retried
request never creates twice. Never call these functions while holding a row lock: they block
on the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import stripe as stripe  # re-exported: callers catch ``stripe_client.stripe.StripeError``
from django.conf import settings
from stripe._object_classes import OBJECT_CLASSES

if TYPE_CHECKING:
    from stripe.params import InvoiceCreatePreviewParamsSubscriptionDetailsItem

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeUnavailable(RuntimeError):
    """No secret key is configured: Stripe checkout is switched off."""


def is_configured() -> bool:
    return bool(settings.STRIPE.get("secret_key"))


def api_version() -> str:
    return str(settings.STRIPE_API_VERSION)


def configure() -> ModuleType:
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


def client() -> ModuleType:
    """The ``stripe`` module, configured from settings. Raises StripeUnavailable without a key."""
    if not settings.STRIPE.get("secret_key"):
        raise StripeUnavailable("Stripe is not configured (no STRIPE_SECRET_KEY).")
    return configure()


def retrieve_object(kind: str, object_id: str) -> dict[str, Any]:
    """Any Stripe object by its ``object`` name (``"subscription"``, ``"charge"``...), read at
    the pinned API version. Raises LookupError for a kind stripe-python cannot retrieve."""
    entry = OBJECT_CLASSES.get(kind)
    if entry is None:
        raise LookupError(kind)
    cls = getattr(import_module(entry[0]), entry[1]) if isinstance(entry, tuple) else entry
    if not hasattr(cls, "retrieve"):
        raise LookupError(kind)
    client()
    # ``cls`` is looked up by name at run time, so mypy sees Any; every class in
    # OBJECT_CLASSES is a StripeObject, whose ``to_dict()`` is a dict[str, Any].
    data: dict[str, Any] = cls.retrieve(object_id).to_dict()
    return data


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"email": email, "metadata": {"user_id": str(user_id)}}
    if name:  # the library leaves out a None value, so an empty name is simply not sent
        params["name"] = name
    client()
    return stripe.Customer.create(**params, idempotency_key=idempotency_key).to_dict()


def create_checkout_session(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client()
    return stripe.checkout.Session.create(**params, idempotency_key=idempotency_key).to_dict()


def create_refund(
    *,
    payment_intent: str | None,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
    idempotency_key: str,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "payment_intent": payment_intent,
        "amount": amount,
        "metadata": metadata,
    }
    if reason:
        kwargs["reason"] = reason
    client()
    return stripe.Refund.create(**kwargs, idempotency_key=idempotency_key).to_dict()


def retrieve_payment_intent(
    payment_intent_id: str, *, expand: list[str] | None = None
) -> dict[str, Any]:
    client()
    return stripe.PaymentIntent.retrieve(payment_intent_id, expand=expand or []).to_dict()


def retrieve_payment_method(payment_method_id: str) -> dict[str, Any]:
    client()
    return stripe.PaymentMethod.retrieve(payment_method_id).to_dict()


def list_invoice_payments(
    *, invoice: str | None = None, payment_intent: str | None = None
) -> list[dict[str, Any]]:
    """The payments of an invoice, or the invoice payment made by a PaymentIntent."""
    params: dict[str, Any] = {"limit": 100}
    if invoice:
        params["invoice"] = invoice
    if payment_intent:
        params["payment"] = {"type": "payment_intent", "payment_intent": payment_intent}
    client()
    payments: list[dict[str, Any]] = stripe.InvoicePayment.list(**params).to_dict()["data"]
    return payments


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    client()
    return stripe.checkout.Session.retrieve(session_id).to_dict()


def list_refunds_for_charge(charge_id: str) -> list[dict[str, Any]]:
    client()
    refunds: list[dict[str, Any]] = stripe.Refund.list(charge=charge_id, limit=100).to_dict()[
        "data"
    ]
    return refunds


# --- subscriptions ---------------------------------------------------------------------------


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    client()
    return stripe.Subscription.retrieve(subscription_id).to_dict()


def update_subscription(
    subscription_id: str, *, idempotency_key: str, **params: Any
) -> dict[str, Any]:
    client()
    return stripe.Subscription.modify(
        subscription_id, **params, idempotency_key=idempotency_key
    ).to_dict()


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> dict[str, Any]:
    client()
    return stripe.Subscription.cancel(subscription_id, idempotency_key=idempotency_key).to_dict()


def retrieve_invoice(invoice_id: str) -> dict[str, Any]:
    client()
    return stripe.Invoice.retrieve(invoice_id).to_dict()


def void_invoice(invoice_id: str, *, idempotency_key: str) -> dict[str, Any]:
    client()
    return stripe.Invoice.void_invoice(invoice_id, idempotency_key=idempotency_key).to_dict()


def preview_invoice(
    *, customer: str, subscription: str, items: list[dict[str, Any]], proration_date: int
) -> dict[str, Any]:
    """Stripe's invoice preview for changing ``subscription`` to ``items`` now."""
    # The callers build each item as a plain dict of Stripe's item keys (``id``, ``price``);
    # the library types them as its TypedDict, which a dict[str, Any] cannot be narrowed to.
    preview_items = cast("list[InvoiceCreatePreviewParamsSubscriptionDetailsItem]", items)
    client()
    return stripe.Invoice.create_preview(
        customer=customer,
        subscription=subscription,
        subscription_details={
            "items": preview_items,
            "proration_behavior": "always_invoice",
            "proration_date": proration_date,
        },
    ).to_dict()


def create_portal_session(*, customer: str, return_url: str) -> dict[str, Any]:
    client()
    return stripe.billing_portal.Session.create(customer=customer, return_url=return_url).to_dict()


def create_coupon(*, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.Coupon.create(**params, idempotency_key=idempotency_key).to_dict()


def create_promotion_code(*, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.PromotionCode.create(**params, idempotency_key=idempotency_key).to_dict()


def update_promotion_code(promotion_code_id: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.PromotionCode.modify(promotion_code_id, **params).to_dict()


def create_tax_rate(*, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.TaxRate.create(**params, idempotency_key=idempotency_key).to_dict()


def list_products() -> Iterator[dict[str, Any]]:
    """Every Stripe product (auto-paginated iterator of dicts)."""
    client()
    for product in stripe.Product.list(limit=100).auto_paging_iter():
        yield product.to_dict()


def list_prices() -> Iterator[dict[str, Any]]:
    client()
    for price in stripe.Price.list(limit=100).auto_paging_iter():
        yield price.to_dict()


def create_product(*, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.Product.create(**params, idempotency_key=idempotency_key).to_dict()


def update_product(product_id: str, *, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.Product.modify(product_id, **params, idempotency_key=idempotency_key).to_dict()


def create_price(*, idempotency_key: str, **params: Any) -> dict[str, Any]:
    client()
    return stripe.Price.create(**params, idempotency_key=idempotency_key).to_dict()


def list_events(*, created_gte: int) -> Iterator[dict[str, Any]]:
    client()
    for event in stripe.Event.list(created={"gte": created_gte}, limit=100).auto_paging_iter():
        yield event.to_dict()
