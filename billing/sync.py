"""Stripe sync: catalog products/prices both ways, and the daily reconciliation.

Pull: every Stripe product and price is created or updated in the catalog by its Stripe id;
nothing local is ever deleted (a price Stripe archived becomes inactive). Push: local
products of Stripe-billed plans (and products whose metadata says ``"stripe_sync": true``)
that have no Stripe id are created at Stripe with an idempotency key per row, so a retry
after a failure never creates twice. Each object is applied in its own transaction: a failure
is logged and counted, and the next run (every 5 minutes) retries it.

Reconcile: Stripe events of the last 3 days missing from the inbox are inserted and
processed; each Stripe-billed subscription is compared with Stripe and differences are
recorded as StripeDrift rows (staff see them in admin).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts import authority
from billing import stripe_client, stripe_mirror
from core.ids import parse_id

logger = logging.getLogger(__name__)

RECONCILE_WINDOW_SECONDS = 3 * 24 * 3600


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    pushed: int = 0
    failed: int = 0
    enqueued: int = 0
    drift: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("created", "updated", "pushed", "failed",
                                              "enqueued", "drift")}


def _noop(iterable, **kwargs):
    return iterable


# --- push ----------------------------------------------------------------------------------


def ensure_stripe_product(product) -> str:
    """The product's Stripe id, creating the Stripe product once (idempotency key per row)."""
    from catalog.models import Product

    product.refresh_from_db(fields=["stripe_product_id"])
    if product.stripe_product_id:
        return product.stripe_product_id
    remote = stripe_client.create_product(
        name=product.name, description=product.short_description or None,
        metadata={"catalog_product_id": str(product.pk)},
        idempotency_key=f"catalog-product-push-{product.pk}")
    Product.all_objects.filter(pk=product.pk, stripe_product_id__isnull=True).update(
        stripe_product_id=remote["id"], stripe_synced_at=timezone.now())
    product.refresh_from_db(fields=["stripe_product_id"])
    return product.stripe_product_id


def ensure_stripe_price(price) -> str:
    """The price's Stripe id, creating product and price at Stripe once if needed."""
    from catalog.models import Price

    price.refresh_from_db(fields=["stripe_price_id"])
    if price.stripe_price_id:
        return price.stripe_price_id
    product_id = ensure_stripe_product(price.product)
    params = {"product": product_id, "unit_amount": price.unit_amount,
              "currency": price.currency, "nickname": price.nickname or None,
              "metadata": {"catalog_price_id": str(price.pk)}}
    if price.interval:
        params["recurring"] = {"interval": price.interval,
                               "interval_count": price.interval_count or 1}
    remote = stripe_client.create_price(**params,
                                        idempotency_key=f"catalog-price-push-{price.pk}")
    Price.objects.filter(pk=price.pk, stripe_price_id__isnull=True).update(
        stripe_price_id=remote["id"], stripe_synced_at=timezone.now())
    price.refresh_from_db(fields=["stripe_price_id"])
    return price.stripe_price_id


def products_to_push():
    from django.db.models import Q

    from catalog.models import Plan, Product

    plan_products = Plan.objects.filter(billing_source=Plan.BillingSource.STRIPE,
                                        active=True).values("product_id")
    return (Product.objects.filter(deleted_at__isnull=True)
            .filter(Q(pk__in=plan_products) | Q(metadata__stripe_sync=True))
            .order_by("id"))


def push_products(*, products=None, progress=_noop, report: SyncReport | None = None,
                  actor=None):
    """Create at Stripe every marked product and its active prices that lack a Stripe id."""
    authority.require(actor, "billing.stripe.sync")
    from catalog.models import Price

    report = report or SyncReport()
    for product in progress(list(products if products is not None else products_to_push()),
                            desc="push"):
        try:
            had_id = bool(product.stripe_product_id)
            ensure_stripe_product(product)
            if had_id:
                stripe_client.update_product(
                    product.stripe_product_id, name=product.name,
                    idempotency_key=f"catalog-product-update-{product.pk}-"
                                    f"{int(product.updated_at.timestamp())}")
            for price in Price.objects.filter(product=product, active=True,
                                              stripe_price_id__isnull=True):
                ensure_stripe_price(price)
            report.pushed += 1
        except (stripe_client.stripe.StripeError, stripe_client.StripeUnavailable) as exc:
            report.failed += 1
            report.errors.append(f"push product {product.pk}: {exc}")
            logger.warning("Stripe push of product %s failed: %s", product.pk, exc)
    return report


# --- pull ----------------------------------------------------------------------------------


def _pull_product(remote: dict) -> tuple:
    from django.utils.text import slugify

    from catalog.models import Product, ProductStatus, ProductType

    local = Product.all_objects.filter(stripe_product_id=remote["id"]).first()
    if local is None:
        catalog_id = parse_id((remote.get("metadata") or {}).get("catalog_product_id"))
        if catalog_id:
            local = Product.all_objects.filter(pk=catalog_id,
                                               stripe_product_id__isnull=True).first()
    if local is None:
        base = slugify(remote.get("name") or remote["id"])[:200] or "product"
        slug = base
        if Product.all_objects.filter(slug=slug).exists():
            slug = f"{base}-{remote['id'][-8:].lower()}"
        local = Product.all_objects.create(
            name=(remote.get("name") or remote["id"])[:200], slug=slug,
            description=remote.get("description") or "",
            status=ProductStatus.PUBLISHED if remote.get("active") else ProductStatus.ARCHIVED,
            type=ProductType.ONE_TIME, stripe_product_id=remote["id"],
            stripe_synced_at=timezone.now(),
            published_at=timezone.now() if remote.get("active") else None)
        return local, True
    changes = {"stripe_product_id": remote["id"], "stripe_synced_at": timezone.now()}
    if remote.get("name"):
        changes["name"] = remote["name"][:200]
    Product.all_objects.filter(pk=local.pk).update(**changes)
    return local, False


def _pull_price(remote: dict) -> tuple | None:
    from catalog.models import Price, PriceType, Product

    product = Product.all_objects.filter(stripe_product_id=remote.get("product")).first()
    if product is None:
        return None
    recurring = remote.get("recurring") or {}
    values = {
        "product": product, "unit_amount": int(remote.get("unit_amount") or 0),
        "currency": remote.get("currency") or "usd",
        "type": PriceType.RECURRING if recurring else PriceType.ONE_TIME,
        "interval": recurring.get("interval") if recurring else None,
        "interval_count": int(recurring.get("interval_count") or 1),
        "active": bool(remote.get("active", True)),
        "nickname": (remote.get("nickname") or "")[:100],
        "stripe_synced_at": timezone.now(),
    }
    local = Price.objects.filter(stripe_price_id=remote["id"]).first()
    if local is None:
        catalog_id = parse_id((remote.get("metadata") or {}).get("catalog_price_id"))
        if catalog_id:
            local = Price.objects.filter(pk=catalog_id, stripe_price_id__isnull=True).first()
    if local is None:
        return Price.objects.create(stripe_price_id=remote["id"], **values), True
    # Stripe prices are immutable apart from active/nickname: only those follow Stripe.
    Price.objects.filter(pk=local.pk).update(stripe_price_id=remote["id"],
                                             active=values["active"],
                                             nickname=values["nickname"],
                                             stripe_synced_at=values["stripe_synced_at"])
    return local, False


def pull_catalog(*, progress=_noop, report: SyncReport | None = None,
                 actor=None) -> SyncReport:
    """Create or update local products and prices from Stripe's catalog. Staff need the
    policy's ``billing.stripe.sync`` (NotAuthorized)."""
    authority.require(actor, "billing.stripe.sync")
    report = report or SyncReport()
    for kind, lister, apply in (("product", stripe_client.list_products, _pull_product),
                                ("price", stripe_client.list_prices, _pull_price)):
        try:
            remotes = list(lister())
        except stripe_client.stripe.StripeError as exc:
            report.failed += 1
            report.errors.append(f"list {kind}s: {exc}")
            logger.warning("Listing Stripe %ss failed: %s", kind, exc)
            continue
        for remote in progress(remotes, desc=f"pull {kind}s"):
            stripe_mirror.mirror(remote)
            try:
                with transaction.atomic():
                    result = apply(remote)
            except Exception as exc:  # noqa: BLE001 - one bad object must not stop the rest
                report.failed += 1
                report.errors.append(f"{kind} {remote.get('id')}: {exc}")
                logger.exception("Pulling Stripe %s %s failed", kind, remote.get("id"))
                continue
            if result is None:
                continue
            if result[1]:
                report.created += 1
            else:
                report.updated += 1
    return report


def sync_catalog(*, progress=_noop) -> SyncReport:
    """Pull then push. Safe to run repeatedly (every 5 minutes)."""
    report = pull_catalog(progress=progress)
    return push_products(progress=progress, report=report)


# --- reconcile -----------------------------------------------------------------------------


def enqueue_missing_events(*, now: float | None = None, progress=_noop,
                           report: SyncReport | None = None) -> SyncReport:
    """Insert Stripe's events of the last 3 days that our inbox never received."""
    from billing.models import WebhookEvent
    from billing.services.inbox import InvalidEvent, record_event

    report = report or SyncReport()
    since = int((now or time.time()) - RECONCILE_WINDOW_SECONDS)
    events = list(stripe_client.list_events(created_gte=since))
    known = set(WebhookEvent.objects.filter(stripe_event_id__in=[e["id"] for e in events])
                .values_list("stripe_event_id", flat=True))
    for event in progress([e for e in events if e["id"] not in known], desc="events"):
        try:
            _, created = record_event(body=json.dumps(event).encode())
        except InvalidEvent as exc:
            report.failed += 1
            report.errors.append(f"event {event.get('id')}: {exc}")
            continue
        report.enqueued += int(created)
    return report


def _fmt(value) -> str:
    return "" if value is None else str(value)


def _iso(timestamp) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat() if timestamp else None


def _compare(*, subscription, object_id: str, values: dict, report: SyncReport) -> None:
    """Record each field whose ours != theirs as an open StripeDrift row (one per field and
    pair of values); close the open rows of fields that agree again."""
    from billing.models import StripeDrift

    now = timezone.now()
    for name, (ours, theirs) in values.items():
        open_rows = StripeDrift.objects.filter(object_id=object_id, field=name,
                                               resolved_at__isnull=True)
        if _fmt(ours) == _fmt(theirs):
            open_rows.update(resolved_at=now)
            continue
        local, remote = _fmt(ours)[:255], _fmt(theirs)[:255]
        open_rows.exclude(local_value=local, stripe_value=remote).update(resolved_at=now)
        StripeDrift.objects.get_or_create(
            object_id=object_id, field=name, resolved_at__isnull=True, local_value=local,
            stripe_value=remote, defaults={"subscription": subscription})
        report.drift += 1


def _mirrored(model_name: str, object_id: str) -> dict | None:
    """The raw Stripe object dj-stripe's mirror holds for ``object_id`` (or None)."""
    from django.apps import apps

    row = (apps.get_model("djstripe", model_name).objects.filter(id=object_id)
           .values_list("stripe_data", flat=True).first())
    return row or None


def check_drift(*, progress=_noop, report: SyncReport | None = None) -> SyncReport:
    """Compare our records with Stripe's: each live Stripe-billed subscription (read again
    from Stripe and mirrored), and each Stripe invoice changed lately (with its charge) as
    dj-stripe's mirror holds them. Differences are StripeDrift rows staff see in the admin."""
    from billing.models import BillingSource, Subscription
    from billing.services.subscriptions import map_status

    report = report or SyncReport()
    from django.db.models import Q

    # Live ones, and ended ones whose drift is still open (so it can be marked resolved).
    subscriptions = (Subscription.objects.filter(billing_source=BillingSource.STRIPE,
                                                 stripe_subscription_id__isnull=False)
                     .filter(~Q(status__in=["CANCELED", "INCOMPLETE_EXPIRED"])
                             | Q(drifts__resolved_at__isnull=True, drifts__isnull=False))
                     .distinct().order_by("id"))
    for subscription in progress(list(subscriptions), desc="drift"):
        try:
            remote = stripe_client.retrieve_subscription(subscription.stripe_subscription_id)
        except stripe_client.stripe.StripeError as exc:
            report.failed += 1
            report.errors.append(f"subscription {subscription.pk}: {exc}")
            continue
        stripe_mirror.mirror(remote)
        theirs = _mirrored("Subscription", remote["id"]) or remote
        # dj-stripe 2.11 reads periods from the subscription; since 2025-03-31 they are on
        # the items: the raw object is read.
        item = ((theirs.get("items") or {}).get("data") or [{}])[0]
        _compare(subscription=subscription, object_id=subscription.stripe_subscription_id,
                 report=report, values={
                     "status": (subscription.status, map_status(theirs.get("status"))),
                     "current_period_end": (
                         subscription.current_period_end.isoformat()
                         if subscription.current_period_end else None,
                         _iso(item.get("current_period_end")))})
    check_invoice_drift(progress=progress, report=report)
    return report


# Our invoice statuses as Stripe's: a refund does not change a Stripe invoice's status.
STRIPE_INVOICE_STATUS = {"PARTIALLY_REFUNDED": "paid", "REFUNDED": "paid"}


def check_invoice_drift(*, progress=_noop, report: SyncReport | None = None) -> SyncReport:
    """Each Stripe invoice changed in the reconciliation window (or with an open drift)
    against the mirror: total, amount paid, status, period end; and what its charge says was
    refunded against our succeeded refunds of it."""
    from datetime import timedelta

    from django.db.models import Q, Sum

    from billing.models import BillingSource, Invoice, Payment, Refund, StripeDrift

    report = report or SyncReport()
    since = timezone.now() - timedelta(seconds=RECONCILE_WINDOW_SECONDS)
    drifting = StripeDrift.objects.filter(resolved_at__isnull=True).values("object_id")
    invoices = (Invoice.objects.filter(billing_source=BillingSource.STRIPE,
                                       stripe_invoice_id__isnull=False)
                .filter(Q(updated_at__gte=since) | Q(stripe_invoice_id__in=drifting))
                .select_related("subscription").order_by("id"))
    for invoice in progress(list(invoices), desc="invoices"):
        theirs = _mirrored("Invoice", invoice.stripe_invoice_id)
        if theirs is None:
            _compare(subscription=invoice.subscription, object_id=invoice.stripe_invoice_id,
                     report=report, values={"mirror": ("present", "missing")})
            continue
        lines = (theirs.get("lines") or {}).get("data") or []
        period_end = max(((line.get("period") or {}).get("end") or 0 for line in lines),
                         default=0)
        _compare(subscription=invoice.subscription, object_id=invoice.stripe_invoice_id,
                 report=report, values={
                     "mirror": ("present", "present"),
                     "total": (invoice.total, max(0, int(theirs.get("total") or 0))),
                     "amount_paid": (invoice.amount_paid, int(theirs.get("amount_paid") or 0)),
                     "status": (STRIPE_INVOICE_STATUS.get(invoice.status,
                                                          invoice.status.lower()),
                                theirs.get("status")),
                     "period_end": (invoice.period_end.isoformat() if invoice.period_end
                                    else None, _iso(period_end))})
        payment = (Payment.objects.filter(invoice=invoice).exclude(stripe_charge_id="")
                   .first())
        charge = _mirrored("Charge", payment.stripe_charge_id) if payment else None
        if charge is not None:
            refunded = (Refund.objects.filter(invoice=invoice, status=Refund.Status.SUCCEEDED,
                                              stripe_refund_id__isnull=False)
                        .aggregate(total=Sum("amount"))["total"] or 0)
            _compare(subscription=invoice.subscription, object_id=payment.stripe_charge_id,
                     report=report, values={
                         "refunded_amount": (refunded, int(charge.get("amount_refunded") or 0))})
    return report


def reconcile(*, progress=_noop) -> SyncReport:
    report = enqueue_missing_events(progress=progress)
    return check_drift(progress=progress, report=report)
