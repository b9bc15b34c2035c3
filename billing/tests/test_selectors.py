from datetime import timedelta

import pytest
from django.utils import timezone

from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import OrderStatus, SubscriptionStatus
from billing.selectors import customer_has_completed_order, plan_for_user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, past_due_days, has_plan",
    [
        (SubscriptionStatus.ACTIVE, None, True),
        (SubscriptionStatus.TRIALING, None, True),
        (SubscriptionStatus.PAST_DUE, 2, True),
        (SubscriptionStatus.PAST_DUE, 30, False),
        (SubscriptionStatus.CANCELED, None, False),
        (SubscriptionStatus.INCOMPLETE, None, False),
    ],
)
def test_plan_for_user(customer, status, past_due_days, has_plan):
    since = timezone.now() - timedelta(days=past_due_days) if past_due_days else None
    subscription = SubscriptionFactory(user=customer, status=status, past_due_since=since)
    assert plan_for_user(user=customer) == (subscription.plan if has_plan else None)


@pytest.mark.django_db
def test_plan_for_user_without_subscription(customer):
    assert plan_for_user(user=customer) is None


@pytest.mark.django_db
def test_customer_has_completed_order(customer, other_customer, product):
    pending = OrderFactory(user=customer)
    OrderItemFactory(order=pending, product=product)
    assert not customer_has_completed_order(user=customer, product=product)
    done = OrderFactory(user=customer, status=OrderStatus.COMPLETED)
    OrderItemFactory(order=done, product=product)
    assert customer_has_completed_order(user=customer, product=product)
    assert not customer_has_completed_order(user=other_customer, product=product)
