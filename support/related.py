"""Linking a ticket to the customer's own order or subscription."""

from billing.models import Order, Subscription
from support.errors import RelatedObjectRefused


def clean_related(
    *, customer, order_number: str | None = None, subscription_id: int | None = None
) -> dict:
    """Model fields for ``open_ticket(related=...)``. Another customer's order or subscription
    (or one that does not exist) is refused the same way, so nothing leaks about it."""
    related: dict[str, Order | Subscription] = {}
    if order_number:
        order = Order.objects.filter(user=customer, number=str(order_number).strip()).first()
        if order is None:
            raise RelatedObjectRefused(
                "We could not find that order on your account.", field="related_order"
            )
        related["related_order"] = order
    if subscription_id:
        subscription = Subscription.objects.filter(user=customer, pk=subscription_id).first()
        if subscription is None:
            raise RelatedObjectRefused(
                "We could not find that subscription on your account.", field="related_subscription"
            )
        related["related_subscription"] = subscription
    return related
