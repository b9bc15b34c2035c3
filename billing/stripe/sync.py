"""Stripe sync: catalog products/prices both ways (the daily reconciliation is
``reconciliation``).

Pull: every Stripe product and price is created or updated in the catalog by its Stripe id;
nothing local is ever deleted (a price Stripe archived becomes inactive). Push: local
products of Stripe-billed plans (and products whose metadata says ``"stripe_sync": true``)
that have no Stripe id are created at Stripe with an idempotency key per row, so a retry
after a failure never creates twice. Each object is applied in its own transaction: a failure
is logged and counted, and the next run (every 5 minutes) retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from accounts import authority
from billing.stripe import client as stripe_client
from billing.stripe import mirror as stripe_mirror
from catalog.models import Plan, Price, PriceType, Product, ProductStatus, ProductType
from core.ids import parse_id

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class Progress(Protocol):
    """Wraps the items of a step to show progress (tqdm in the command), yielding them all."""

    def __call__(self, iterable: Iterable[_T], *, desc: str) -> Iterable[_T]: ...


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    pushed: int = 0
    failed: int = 0
    enqueued: int = 0
    drift: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("created", "updated", "pushed", "failed", "enqueued", "drift")
        }


def no_progress(iterable: Iterable[_T], **kwargs: object) -> Iterable[_T]:
    """The default ``progress``: the items as they are."""
    return iterable


# --- push ----------------------------------------------------------------------------------


def ensure_stripe_product(product: Product) -> str:
    """The product's Stripe id, creating the Stripe product once (idempotency key per row)."""
    product.refresh_from_db(fields=["stripe_product_id"])
    if product.stripe_product_id:
        return product.stripe_product_id
    remote = stripe_client.create_product(
        name=product.name,
        description=product.short_description or None,
        metadata={"catalog_product_id": str(product.pk)},
        idempotency_key=f"catalog-product-push-{product.pk}",
    )
    Product.all_objects.filter(pk=product.pk, stripe_product_id__isnull=True).update(
        stripe_product_id=remote["id"], stripe_synced_at=timezone.now()
    )
    product.refresh_from_db(fields=["stripe_product_id"])
    # Set just above, or by a concurrent push of the same row: the update only fills a null.
    assert product.stripe_product_id is not None
    return product.stripe_product_id


def ensure_stripe_price(price: Price) -> str:
    """The price's Stripe id, creating product and price at Stripe once if needed."""
    price.refresh_from_db(fields=["stripe_price_id"])
    if price.stripe_price_id:
        return price.stripe_price_id
    product_id = ensure_stripe_product(price.product)
    params: dict[str, Any] = {
        "product": product_id,
        "unit_amount": price.unit_amount,
        "currency": price.currency,
        "nickname": price.nickname or None,
        "metadata": {"catalog_price_id": str(price.pk)},
    }
    if price.interval:
        params["recurring"] = {
            "interval": price.interval,
            "interval_count": price.interval_count or 1,
        }
    remote = stripe_client.create_price(**params, idempotency_key=f"catalog-price-push-{price.pk}")
    Price.objects.filter(pk=price.pk, stripe_price_id__isnull=True).update(
        stripe_price_id=remote["id"], stripe_synced_at=timezone.now()
    )
    price.refresh_from_db(fields=["stripe_price_id"])
    # Set just above, or by a concurrent push of the same row: the update only fills a null.
    assert price.stripe_price_id is not None
    return price.stripe_price_id


def products_to_push() -> QuerySet[Product]:
    plan_products = Plan.objects.filter(
        billing_source=Plan.BillingSource.STRIPE, active=True
    ).values("product_id")
    return (
        Product.objects.filter(deleted_at__isnull=True)
        .filter(Q(pk__in=plan_products) | Q(metadata__stripe_sync=True))
        .order_by("id")
    )


def push_products(
    *,
    products: Iterable[Product] | None = None,
    progress: Progress = no_progress,
    report: SyncReport | None = None,
    actor: User | None = None,
) -> SyncReport:
    """Create at Stripe every marked product and its active prices that lack a Stripe id."""
    authority.require(actor, "billing.stripe.sync")
    report = report or SyncReport()
    for product in progress(
        list(products if products is not None else products_to_push()), desc="push"
    ):
        try:
            had_id = bool(product.stripe_product_id)
            product_id = ensure_stripe_product(product)
            if had_id:
                stripe_client.update_product(
                    product_id,
                    name=product.name,
                    idempotency_key=f"catalog-product-update-{product.pk}-"
                    f"{int(product.updated_at.timestamp())}",
                )
            for price in Price.objects.filter(
                product=product, active=True, stripe_price_id__isnull=True
            ):
                ensure_stripe_price(price)
            report.pushed += 1
        except (stripe_client.stripe.StripeError, stripe_client.StripeUnavailable) as exc:
            report.failed += 1
            report.errors.append(f"push product {product.pk}: {exc}")
            logger.warning("Stripe push of product %s failed: %s", product.pk, exc)
    return report


# --- pull ----------------------------------------------------------------------------------


def _pull_product(remote: dict[str, Any]) -> tuple[Product, bool]:
    local = Product.all_objects.filter(stripe_product_id=remote["id"]).first()
    if local is None:
        catalog_id = parse_id((remote.get("metadata") or {}).get("catalog_product_id"))
        if catalog_id:
            local = Product.all_objects.filter(
                pk=catalog_id, stripe_product_id__isnull=True
            ).first()
    if local is None:
        base = slugify(remote.get("name") or remote["id"])[:200] or "product"
        slug = base
        if Product.all_objects.filter(slug=slug).exists():
            slug = f"{base}-{remote['id'][-8:].lower()}"
        local = Product.all_objects.create(
            name=(remote.get("name") or remote["id"])[:200],
            slug=slug,
            description=remote.get("description") or "",
            status=ProductStatus.PUBLISHED if remote.get("active") else ProductStatus.ARCHIVED,
            type=ProductType.ONE_TIME,
            stripe_product_id=remote["id"],
            stripe_synced_at=timezone.now(),
            published_at=timezone.now() if remote.get("active") else None,
        )
        return local, True
    changes: dict[str, Any] = {
        "stripe_product_id": remote["id"],
        "stripe_synced_at": timezone.now(),
    }
    if remote.get("name"):
        changes["name"] = remote["name"][:200]
    Product.all_objects.filter(pk=local.pk).update(**changes)
    return local, False


def _pull_price(remote: dict[str, Any]) -> tuple[Price, bool] | None:
    product = Product.all_objects.filter(stripe_product_id=remote.get("product")).first()
    if product is None:
        return None
    recurring = remote.get("recurring") or {}
    values: dict[str, Any] = {
        "product": product,
        "unit_amount": int(remote.get("unit_amount") or 0),
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
    Price.objects.filter(pk=local.pk).update(
        stripe_price_id=remote["id"],
        active=values["active"],
        nickname=values["nickname"],
        stripe_synced_at=values["stripe_synced_at"],
    )
    return local, False


def pull_catalog(
    *, progress: Progress = no_progress, report: SyncReport | None = None, actor: User | None = None
) -> SyncReport:
    """Create or update local products and prices from Stripe's catalog. Staff need the
    policy's ``billing.stripe.sync`` (NotAuthorized)."""
    authority.require(actor, "billing.stripe.sync")
    report = report or SyncReport()
    for kind, lister, apply in (
        ("product", stripe_client.list_products, _pull_product),
        ("price", stripe_client.list_prices, _pull_price),
    ):
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


def sync_catalog(*, progress: Progress = no_progress) -> SyncReport:
    """Pull then push. Safe to run repeatedly (every 5 minutes)."""
    report = pull_catalog(progress=progress)
    return push_products(progress=progress, report=report)
