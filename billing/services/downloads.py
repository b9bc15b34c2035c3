"""Downloads of digital goods: owner only, counted atomically, limit and expiry enforced.

Two ways to a download: a paid order line (``register_download``), or a live subscription
whose plan includes the product (``register_included_download``, ``Plan.included_downloads``),
counted per subscription against the product's download limit. Each download is audited."""

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import StoredFile, User
from billing import entitlements, errors, selectors
from billing.models import IncludedDownload, OrderItem, OrderStatus, Subscription
from catalog.models import Plan, Product, download_entitlement
from core import audit
from core.models import AuditAction

DOWNLOADABLE_ORDER_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)


def register_download(*, user: User, order_number: str, item_id: int) -> StoredFile:
    """Count one download and return the StoredFile to serve.

    The count is one conditional UPDATE (``download_count < download_limit`` and not
    expired), so concurrent clicks can never exceed the limit. Raises OrderNotFound (another
    customer's order, 404), DownloadNotAvailable, DownloadNotPaid, DownloadExpired,
    DownloadLimitReached; nothing is counted when it raises.
    """
    item = (
        OrderItem.objects.select_related("order", "product__download_file")
        .filter(pk=item_id, order__number=order_number, order__user=user)
        .first()
    )
    if item is None:
        raise errors.OrderNotFound()
    stored = item.product.download_file
    if stored is None:
        raise errors.DownloadNotAvailable()
    if item.order.status not in DOWNLOADABLE_ORDER_STATUSES:
        raise errors.DownloadNotPaid()
    now = timezone.now()
    # Only columns of this row in the WHERE: a join (e.g. on the order's status) would make
    # Django write ``id IN (subquery)``, which PostgreSQL does not re-check after waiting for
    # a concurrent update, and two clicks could both pass the limit.
    counted = OrderItem.objects.filter(
        Q(download_limit__isnull=True) | Q(download_count__lt=F("download_limit")),
        Q(access_expires_at__isnull=True) | Q(access_expires_at__gt=now),
        pk=item.pk,
    ).update(download_count=F("download_count") + 1, updated_at=now)
    if not counted:
        item.refresh_from_db()
        if item.access_expires_at and item.access_expires_at <= now:
            raise errors.DownloadExpired()
        raise errors.DownloadLimitReached(download_limit=item.download_limit)
    _audit(user, item.product, via={"order": order_number, "order_item": item.pk})
    return stored


def _audit(user: User, product: Product, *, via: dict) -> None:
    audit.record(
        actor=user,
        action=AuditAction.OTHER,
        resource=product,
        new={"downloaded": product.name},
        event="download",
        **via,
    )


def register_included_download(*, user: User, product_id: int) -> StoredFile:
    """Count one download of a product the user's live plan includes and return the file.

    The same rules as a bought one: one conditional UPDATE against the product's download
    limit, counted per subscription. Raises ProductNotFound (404), DownloadNotAvailable,
    EntitlementRequired (403 ``entitlement_required``, naming the plans that include it:
    no live plan of the user includes it, e.g. after the subscription ended) and
    DownloadLimitReached; nothing is counted when it raises.
    """
    product = Product.objects.select_related("download_file").filter(pk=product_id).first()
    if product is None:
        raise errors.ProductNotFound()
    stored = product.download_file
    if stored is None:
        raise errors.DownloadNotAvailable()
    subscription = _granting(user, product)
    if subscription is None:
        raise refusal(product)
    row = _counter(subscription, product)
    counted = IncludedDownload.objects.filter(
        Q(download_limit__isnull=True) | Q(download_count__lt=F("download_limit")), pk=row.pk
    ).update(download_count=F("download_count") + 1, updated_at=timezone.now())
    if not counted:
        raise errors.DownloadLimitReached(download_limit=row.download_limit)
    _audit(user, product, via={"subscription": subscription.pk, "plan": subscription.plan_id})
    return stored


def _granting(user: User, product: Product) -> Subscription | None:
    """The user's live subscription whose plan includes ``product`` (newest first)."""
    if not entitlements.has_entitlement(user, download_entitlement(product.pk)):
        return None
    return (
        selectors.live_subscriptions_granting_plan(user=user)
        .filter(plan__included_downloads=product)
        .order_by("-current_period_start", "-id")
        .first()
    )


def _counter(subscription: Subscription, product: Product) -> IncludedDownload:
    fields = {"subscription": subscription, "product": product}
    found = IncludedDownload.objects.filter(**fields).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return IncludedDownload.objects.create(
                **fields, user_id=subscription.user_id, download_limit=product.download_limit
            )
    except IntegrityError:  # a simultaneous first download created it
        return IncludedDownload.objects.get(**fields)


def plans_including_download(product: Product) -> list[Plan]:
    """The active plans that include downloads of ``product``, cheapest first."""
    return list(product.including_plans.filter(active=True).order_by("sort_order", "id"))


def refusal(product: Product) -> entitlements.EntitlementRequired:
    """The 403 ``entitlement_required`` for a download no live plan of the user includes."""
    plans = plans_including_download(product)
    names = ", ".join(plan.name for plan in plans)
    message = f"Your plan does not include downloads of {product.name}. " + (
        f"They are included in {names}: change plan at /pricing/, or buy it."
        if plans
        else "Buy it to download it."
    )
    return entitlements.EntitlementRequired(
        message,
        entitlement=download_entitlement(product.pk),
        plans=[plan.slug for plan in plans],
    )
