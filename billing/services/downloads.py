"""Downloads of digital goods: owner only, counted atomically, limit and expiry enforced."""

from django.db.models import F, Q
from django.utils import timezone

from accounts.models import StoredFile, User
from billing import errors
from billing.models import OrderItem, OrderStatus

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
    return stored
