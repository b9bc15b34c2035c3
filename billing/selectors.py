"""Billing reads other apps (and our own views) use."""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from billing.models import (
    BillingSource,
    DiscountUsage,
    Invoice,
    InvoiceStatus,
    Order,
    OrderItem,
    OrderStatus,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from catalog.models import Plan, Product, download_entitlement

PAID_ORDER_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)
PAID_INVOICE_STATUSES = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED)


def current_subscription(*, user: User) -> Subscription | None:
    """The user's subscription that grants a plan now: ACTIVE or TRIALING, or PAST_DUE
    within the grace period. The most recently started wins if there are several."""
    if not getattr(user, "pk", None):
        return None
    return (
        Subscription.objects.filter(user=user)
        .granting_plan()
        .select_related("plan")
        .order_by("-current_period_start", "-id")
        .first()
    )


def plan_for_user(*, user: User) -> Plan | None:
    """The catalog Plan of the user's current subscription, or None (see current_subscription)."""
    subscription = current_subscription(user=user)
    return subscription.plan if subscription else None


def customer_has_completed_order(*, user: User, product: Product | int) -> bool:
    """Whether the user paid for ``product``: a completed, not fully refunded order of it, or
    a paid (not fully refunded, not free) invoice of a subscription to its plan."""
    product_id = product.pk if isinstance(product, Product) else product
    return (
        OrderItem.objects.filter(
            order__user=user, product_id=product_id, order__status__in=PAID_ORDER_STATUSES
        ).exists()
        or Invoice.objects.filter(
            user=user,
            subscription__plan__product_id=product_id,
            status__in=PAID_INVOICE_STATUSES,
            total__gt=0,
        ).exists()
    )


def orders_for_user(*, user: User) -> QuerySet[Order]:
    """The user's orders, newest first, with what the order list shows of each (its invoice
    number, its items and their products) loaded with the page: no query per row."""
    return (
        Order.objects.filter(user=user)
        .select_related("invoice")
        .prefetch_related("items", "items__product")
        .order_by("-created_at", "-id")
    )


def order_for_user(*, user: User, number: str) -> Order | None:
    return (
        Order.objects.filter(user=user, number=number)
        .prefetch_related("items", "items__product", "refunds", "payments")
        .select_related("invoice")
        .first()
    )


def live_subscriptions_granting_plan(*, user: User) -> QuerySet[Subscription]:
    """Every subscription of ``user`` that grants its plan now (see current_subscription)."""
    return Subscription.objects.filter(user=user).granting_plan().select_related("plan")


def entitlements_for(*, user: User) -> set[str]:
    """What the customer may use now: the union of the entitlements of the plans of their
    active or trialing subscriptions, and past-due ones within the grace period.
    "premium" is exactly this set being non-empty (seeds use it). A plan that includes
    downloads of products adds ``download:<product id>`` for each (one query in all)."""
    if not getattr(user, "pk", None):
        return set()
    result: set[str] = set()
    rows = live_subscriptions_granting_plan(user=user).values_list(
        "plan__entitlements", "plan__included_downloads"
    )
    for keys, product_id in rows:
        result.update(str(e) for e in (keys or []))
        if product_id is not None:
            result.add(download_entitlement(product_id))
    return result


def past_due_subscription(*, user: User) -> Subscription | None:
    """The user's subscription whose payment failed (for the fix-payment banner)."""
    if not getattr(user, "pk", None):
        return None
    return (
        Subscription.objects.filter(
            user=user, status__in=[SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID]
        )
        .select_related("plan")
        .order_by("-past_due_since", "-id")
        .first()
    )


# A subscription's timeline in the API: its newest events.
TIMELINE_LENGTH = 50


def subscriptions_for_user(*, user: User) -> QuerySet[Subscription]:
    """The user's subscriptions, newest first, with their plan, price and, as
    ``timeline_events``, their newest ``TIMELINE_LENGTH`` events (one windowed query for the
    page, not one per row)."""
    newest_events = SubscriptionEvent.objects.order_by("-created_at", "-id")[:TIMELINE_LENGTH]
    return (
        Subscription.objects.filter(user=user)
        .select_related("plan", "price")
        .prefetch_related(Prefetch("events", queryset=newest_events, to_attr="timeline_events"))
        .order_by("-created_at", "-id")
    )


def invoices_for_user(*, user: User) -> QuerySet[Invoice]:
    return Invoice.objects.filter(user=user).order_by("-created_at", "-id")


def discount_label(invoice: Invoice) -> str:
    """How an invoice's discount total is labelled: "Discount SPRING25" when its order's or
    subscription's discount came from a promotion code and no line of its own names it (an
    order's invoice, a Stripe invoice); "" for the page's usual label."""
    if not invoice.discount_amount:
        return ""
    if invoice.order_id:
        usage = DiscountUsage.objects.filter(order_id=invoice.order_id)
    elif invoice.subscription_id and invoice.billing_source == BillingSource.STRIPE:
        usage = DiscountUsage.objects.filter(subscription_id=invoice.subscription_id)
    else:
        return ""
    code = usage.exclude(promotion_code=None).values_list("promotion_code__code", flat=True)
    found = code.first()
    return f"Discount {found}" if found else ""
