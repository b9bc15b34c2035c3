"""Discount limits hold across everything a code applies to: orders and subscriptions
(first-time only, per customer, total uses, dates), under concurrency on PostgreSQL; the
uses count always equals the usage rows."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from billing import errors
from billing.factories import DiscountFactory
from billing.models import Discount, DiscountUsage, Subscription
from billing.models import SubscriptionStatus as S
from billing.services import cart as cart_service
from billing.services import discounts as discount_service
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle as service
from billing.tests.races import CHECKOUT, post_together
from catalog.factories import PlanFactory, PriceFactory, ProductFactory


@pytest.fixture
def office(db):

    return PlanFactory(slug="office", name="Office", billing_source="manual")


def _count_matches_rows(discount):
    discount.refresh_from_db()
    assert discount.uses_count == DiscountUsage.objects.filter(discount=discount).count()
    return discount.uses_count


def _order_with(api, product, code):
    assert api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code == 201
    applied = api.patch("/api/v1/cart/", {"discount_code": code}, format="json")
    if applied.status_code != 200:
        return applied
    return api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")


@pytest.mark.django_db
def test_first_time_code_on_an_order_is_refused_on_a_subscription(
    no_stripe, customer, customer_api, product, office
):
    welcome = DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    assert _order_with(customer_api, product, "WELCOME10").status_code == 201
    refused = customer_api.post(
        "/api/v1/subscriptions/",
        {"plan": "office", "interval": "month", "discount_code": "welcome10"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "discount_first_order_only"
    assert (
        not Subscription.objects.filter(user=customer).exclude(status=S.INCOMPLETE_EXPIRED).exists()
    )
    assert _count_matches_rows(welcome) == 1


@pytest.mark.django_db
def test_first_time_code_on_a_subscription_is_refused_on_an_order_and_counted_once(
    no_stripe, customer, customer_api, product, office, admin_user, staff_console
):
    welcome = DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    sub = service.subscribe(
        user=customer, plan="office", interval="month", discount_code="WELCOME10"
    ).subscription
    usage = DiscountUsage.objects.get(discount=welcome)
    assert usage.subscription == sub and usage.order is None and usage.amount_saved > 0
    assert _count_matches_rows(welcome) == 1
    refused = _order_with(customer_api, product, "WELCOME10")
    assert refused.status_code == 400 and refused.json()["code"] == "discount_first_order_only"
    # Having paid for a subscription makes a customer a returning one for every first-time
    # code, used or not.
    invoice_service.mark_invoice_paid(invoice_id=sub.invoices.get().pk, actor=admin_user)
    DiscountFactory(code="HELLO", percent_off=5, first_time_only=True)
    refused = _order_with(customer_api, product, "HELLO")
    assert refused.json()["code"] == "discount_first_order_only"
    # The staff's page shows the count and the usage row of the subscription.
    page = staff_console.get(f"/admin/billing/discount/{welcome.pk}/change/").content.decode()
    assert f"/admin/billing/subscription/{sub.pk}/" in page or str(sub) in page


@pytest.mark.django_db
def test_per_customer_limit_counts_orders_and_subscriptions_together(
    no_stripe, customer, customer_api, product, office
):
    code = DiscountFactory(code="TWICE", percent_off=10, max_uses_per_customer=1)
    assert _order_with(customer_api, product, "TWICE").status_code == 201
    with pytest.raises(Exception) as refused:
        service.subscribe(user=customer, plan="office", interval="month", discount_code="TWICE")
    assert getattr(refused.value, "code", "") == "discount_customer_limit"
    assert _count_matches_rows(code) == 1


@pytest.mark.django_db
def test_dates_and_total_uses_hold_for_subscriptions(no_stripe, customer, office):

    now = timezone.now()
    DiscountFactory(code="LATER", valid_from=now + timedelta(days=1))
    DiscountFactory(code="GONE", valid_until=now - timedelta(seconds=1))
    full = DiscountFactory(code="FULL", max_uses=1, uses_count=0)
    for code, error in (("LATER", errors.DiscountNotStarted), ("GONE", errors.DiscountExpired)):
        with pytest.raises(error):
            service.subscribe(user=customer, plan="office", interval="month", discount_code=code)
    service.subscribe(user=UserFactory(), plan="office", interval="month", discount_code="FULL")
    with pytest.raises(errors.DiscountExhausted):
        service.subscribe(user=customer, plan="office", interval="month", discount_code="FULL")
    assert _count_matches_rows(full) == 1


@pytest.mark.django_db
def test_an_abandoned_stripe_checkout_gives_its_use_back(stripe_double, customer):

    PlanFactory(slug="cardplan", name="Card plan", billing_source="stripe")
    code = DiscountFactory(code="ONCE", percent_off=10, max_uses=1)
    first = service.subscribe(
        user=customer,
        plan="cardplan",
        interval="month",
        discount_code="ONCE",
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
    ).subscription
    assert _count_matches_rows(code) == 1
    # Starting again replaces the unfinished checkout: its use returns, the new one takes it.
    second = service.subscribe(
        user=customer,
        plan="cardplan",
        interval="month",
        discount_code="ONCE",
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
    ).subscription
    first.refresh_from_db()
    assert first.status == S.INCOMPLETE_EXPIRED and second.pk != first.pk
    assert DiscountUsage.objects.get(discount=code).subscription == second
    assert _count_matches_rows(code) == 1


@pytest.mark.django_db(transaction=True)
def test_last_use_goes_to_one_of_concurrent_orders_and_subscriptions(no_stripe):
    """Five checkouts and five subscriptions race for the last use of a code."""

    PlanFactory(slug="office", name="Office", billing_source="manual")
    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=2000)
    product.save()
    discount = DiscountFactory(code="LAST", max_uses=5, uses_count=4)
    # Four earlier uses, as rows (the count equals the rows).
    for _ in range(4):
        service.subscribe(user=UserFactory(), plan="office", interval="month")
    subs = list(Subscription.objects.all())
    for sub in subs:
        DiscountUsage.objects.create(
            discount=discount, user=sub.user, subscription=sub, amount_saved=0, currency="usd"
        )
    buyers = [UserFactory() for _ in range(5)]
    subscribers = [UserFactory() for _ in range(5)]
    for user in buyers:
        cart_service.add_item(user=user, product_id=product.pk)
        cart_service.apply_code(user=user, code="LAST")
    subscribe = (
        "/api/v1/subscriptions/",
        {"plan": "office", "interval": "month", "discount_code": "LAST"},
    )
    results = post_together(
        [(user, *CHECKOUT) for user in buyers] + [(user, *subscribe) for user in subscribers]
    )

    assert len(results) == 10
    assert sum(1 for status, _ in results if status == 201) == 1, results
    assert all(code == "discount_exhausted" for status, code in results if status != 201)
    discount = Discount.objects.get(pk=discount.pk)
    assert discount.uses_count == 5 == DiscountUsage.objects.filter(discount=discount).count()


@pytest.mark.django_db(transaction=True)
def test_first_time_code_in_two_tabs_order_and_subscription_is_used_once(no_stripe):

    PlanFactory(slug="office", name="Office", billing_source="manual")
    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=2000)
    product.save()
    welcome = DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    user = UserFactory()
    cart_service.add_item(user=user, product_id=product.pk)
    cart_service.apply_code(user=user, code="WELCOME10")
    subscribe = (
        "/api/v1/subscriptions/",
        {"plan": "office", "interval": "month", "discount_code": "WELCOME10"},
    )
    post_together([(user, *CHECKOUT), (user, *subscribe)] * 3)
    assert DiscountUsage.objects.filter(discount=welcome, user=user).count() == 1
    welcome.refresh_from_db()
    assert welcome.uses_count == 1


@pytest.mark.django_db(transaction=True)
def test_one_use_released_twice_at_once_is_given_back_once(no_stripe, customer_api, product):
    """Two cancellations of the same unpaid order racing: the code's count drops by one."""
    code = DiscountFactory(code="TWICE", percent_off=10)
    other = APIClient()
    other.force_authenticate(user=UserFactory())
    assert _order_with(customer_api, product, "TWICE").status_code == 201
    assert _order_with(other, product, "TWICE").status_code == 201
    assert _count_matches_rows(code) == 2
    usage = DiscountUsage.objects.filter(discount=code).order_by("pk").first()
    barrier = threading.Barrier(2)

    def release():
        try:
            with transaction.atomic():
                barrier.wait()
                discount_service.release(order=usage.order)
        finally:
            connection.close()

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count_matches_rows(code) == 1
