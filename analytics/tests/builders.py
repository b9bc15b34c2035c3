"""Source rows for the analytics tests, at chosen moments.

Billing has no factories, so subscriptions, orders, payments and refunds are created with
its models. ``created_at`` is auto_now_add, so it is set afterwards with an UPDATE.
"""

from datetime import UTC, date, datetime, time, timedelta

from accounts.factories import UserFactory
from billing.models import (
    BillingSource,
    Order,
    Payment,
    Refund,
    RefundReason,
    Subscription,
    SubscriptionStatus,
)
from catalog.factories import PlanFactory, RecurringPriceFactory

DAY = date(2026, 3, 10)


def at(day: date = DAY, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def backdate(obj, when: datetime):
    type(obj).objects.filter(pk=obj.pk).update(created_at=when)
    obj.refresh_from_db()
    return obj


def price(amount: int, interval: str = "month", *, currency: str = "usd", count: int = 1):
    return RecurringPriceFactory(
        unit_amount=amount, interval=interval, interval_count=count, currency=currency
    )


def plan():
    return PlanFactory()


def subscribe(
    user=None,
    *,
    price_obj=None,
    created: datetime,
    status=SubscriptionStatus.ACTIVE,
    quantity: int = 1,
    plan_obj=None,
    **fields,
) -> Subscription:
    user = user or UserFactory()
    plan_obj = plan_obj or PlanFactory()
    sub = Subscription.objects.create(
        user=user,
        plan=plan_obj,
        price=price_obj,
        quantity=quantity,
        status=status,
        billing_source=BillingSource.MANUAL,
        **fields,
    )
    return backdate(sub, created)


def cancel(sub: Subscription, when: datetime) -> Subscription:
    Subscription.objects.filter(pk=sub.pk).update(
        status=SubscriptionStatus.CANCELED, canceled_at=when
    )
    sub.refresh_from_db()
    return sub


_numbers = iter(range(1, 10**6))


def order(user, amount: int, currency: str = "usd") -> Order:
    return Order.objects.create(
        number=f"T-{next(_numbers)}",
        user=user,
        billing_source=BillingSource.MANUAL,
        currency=currency,
        subtotal=amount,
        total=amount,
    )


def payment(
    user,
    amount: int,
    *,
    when: datetime,
    currency: str = "usd",
    status=Payment.Status.SUCCEEDED,
    order_obj=None,
) -> Payment:
    paid = Payment.objects.create(
        user=user,
        order=order_obj,
        provider=BillingSource.MANUAL,
        amount=amount,
        currency=currency,
        status=status,
        paid_at=when,
    )
    return backdate(paid, when)


def refund(
    order_obj: Order, amount: int, *, when: datetime | None, status=Refund.Status.SUCCEEDED
) -> Refund:
    return Refund.objects.create(
        order=order_obj,
        amount=amount,
        currency=order_obj.currency,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        status=status,
        provider=BillingSource.MANUAL,
        processed_at=when,
        idempotency_key=f"refund-{next(_numbers)}",
    )


def next_day(day: date = DAY) -> date:
    return day + timedelta(days=1)
