"""Discount codes: every refusal has its own code, and limits hold under concurrency."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.factories import UserFactory
from billing import errors
from billing.factories import DiscountFactory, FixedDiscountFactory, OrderFactory
from billing.models import Discount, DiscountUsage, Order, OrderStatus
from billing.services import cart as cart_service
from billing.services.payments import cancel_order
from billing.tests.races import CHECKOUT, post_together
from catalog.factories import PriceFactory, ProductFactory


def _apply(api, code):
    return api.patch("/api/v1/cart/", {"discount_code": code}, format="json")


@pytest.fixture
def cart_with_product(customer_api, product):
    assert (
        customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code
        == 201
    )
    return customer_api


def _refusal_cases(customer, product):
    now = timezone.now()
    other = ProductFactory()
    return {
        "discount_not_found": None,
        "discount_inactive": DiscountFactory(code="OFF", active=False),
        "discount_not_started": DiscountFactory(code="SOON", valid_from=now + timedelta(days=1)),
        "discount_expired": DiscountFactory(code="OLD", valid_until=now - timedelta(seconds=1)),
        "discount_exhausted": DiscountFactory(code="GONE", max_uses=3, uses_count=3),
        "discount_minimum_not_met": DiscountFactory(code="BIG", minimum_amount=5000),
        "discount_currency_mismatch": FixedDiscountFactory(code="EURO", currency="eur"),
        "discount_not_applicable": DiscountFactory(code="OTHER"),
        "discount_customer_limit": DiscountFactory(code="ONCE", max_uses_per_customer=1),
        "discount_first_order_only": DiscountFactory(code="FIRST", first_time_only=True),
    }, other


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expected",
    [
        "discount_not_found",
        "discount_inactive",
        "discount_not_started",
        "discount_expired",
        "discount_exhausted",
        "discount_minimum_not_met",
        "discount_currency_mismatch",
        "discount_not_applicable",
        "discount_customer_limit",
        "discount_first_order_only",
    ],
)
def test_each_refusal_has_its_own_code_and_changes_nothing(
    cart_with_product, customer, product, expected
):
    cases, other = _refusal_cases(customer, product)
    discount = cases[expected]
    if expected == "discount_not_applicable":
        discount.products.add(other)
    if expected == "discount_customer_limit":
        DiscountUsage.objects.create(
            discount=discount,
            user=customer,
            order=OrderFactory(user=customer),
            amount_saved=100,
            currency="usd",
        )
    if expected == "discount_first_order_only":
        OrderFactory(user=customer, status=OrderStatus.COMPLETED)
    code = discount.code.lower() if discount else "NOPE"

    response = _apply(cart_with_product, code)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == expected
    assert body["detail"]
    cart = cart_with_product.get("/api/v1/cart/").json()
    assert cart["discount_code"] is None and cart["discount_amount"] == 0


@pytest.mark.django_db
def test_refusal_messages_are_distinct(customer, product):

    classes = [
        errors.DiscountNotFound,
        errors.DiscountInactive,
        errors.DiscountNotStarted,
        errors.DiscountExpired,
        errors.DiscountExhausted,
        errors.DiscountCustomerLimit,
        errors.DiscountMinimumNotMet,
        errors.DiscountFirstOrderOnly,
        errors.DiscountNotApplicable,
        errors.DiscountCurrencyMismatch,
    ]
    assert len({c.code for c in classes}) == len({c.default_message for c in classes}) == 10


@pytest.mark.django_db
def test_code_is_case_insensitive_and_unique_case_insensitively(cart_with_product):
    DiscountFactory(code="Spring", percent_off=25)
    response = _apply(cart_with_product, "sPRING")
    assert response.status_code == 200
    assert response.json()["discount_amount"] == 475  # 25 % of 1900
    assert response.json()["total"] == 1425

    with pytest.raises(IntegrityError), transaction.atomic():
        DiscountFactory(code="SPRING")


@pytest.mark.django_db
def test_discount_value_constraints_are_in_the_database():

    for bad in [
        dict(percent_off=0),
        dict(percent_off=101),
        dict(type="FIXED_AMOUNT", percent_off=None, amount_off=0, currency="usd"),
        dict(type="FIXED_AMOUNT", percent_off=None, amount_off=100, currency=""),
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            DiscountFactory(**bad)
    DiscountFactory(percent_off=100)


@pytest.mark.django_db
def test_restricted_discount_applies_only_to_its_products(customer_api, product):
    other = ProductFactory()
    other.default_price = PriceFactory(product=other, unit_amount=1000)
    other.save()
    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    customer_api.post("/api/v1/cart/", {"product_id": other.pk}, format="json")
    discount = FixedDiscountFactory(code="WIDGET5", amount_off=500)
    discount.products.add(product)

    body = _apply(customer_api, "WIDGET5").json()

    lines = {line["product_id"]: line for line in body["items"]}
    assert lines[product.pk]["discount_amount"] == 500
    assert lines[other.pk]["discount_amount"] == 0
    assert body["subtotal"] == 2900 and body["total"] == 2400


@pytest.mark.django_db
def test_fixed_discount_never_exceeds_the_eligible_amount(cart_with_product):
    FixedDiscountFactory(code="HUGE", amount_off=999_999)
    body = _apply(cart_with_product, "HUGE").json()
    assert body["discount_amount"] == 1900 and body["total"] == 0


@pytest.mark.django_db
def test_checkout_rechecks_a_code_that_stopped_applying(cart_with_product, customer):
    discount = DiscountFactory(code="LATE")
    assert _apply(cart_with_product, "LATE").status_code == 200
    Discount.objects.filter(pk=discount.pk).update(active=False)

    assert (
        cart_with_product.get("/api/v1/cart/").json()["discount_error"]["code"]
        == "discount_inactive"
    )
    response = cart_with_product.post(
        "/api/v1/checkout/", {"payment_method": "manual"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "discount_inactive"
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_checkout_counts_a_use_and_cancelling_gives_it_back(
    cart_with_product, customer, admin_user
):
    discount = DiscountFactory(code="COUNT", max_uses=5)
    response = cart_with_product.post(
        "/api/v1/checkout/", {"payment_method": "manual", "discount_code": "count"}, format="json"
    )
    assert response.status_code == 201
    discount.refresh_from_db()
    assert discount.uses_count == 1
    order = Order.objects.get()
    assert order.discount_amount == 190 and order.total == 1710
    assert DiscountUsage.objects.get().amount_saved == 190

    cancel_order(order_id=order.pk, actor=admin_user)
    discount.refresh_from_db()
    assert discount.uses_count == 0 and not DiscountUsage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_last_use_of_a_code_goes_to_exactly_one_of_ten_concurrent_checkouts():

    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=2000)
    product.save()
    discount = DiscountFactory(code="LAST", max_uses=5, uses_count=4)
    users = [UserFactory() for _ in range(10)]
    for user in users:
        cart_service.add_item(user=user, product_id=product.pk)
        cart_service.apply_code(user=user, code="LAST")
    results = post_together([(user, *CHECKOUT) for user in users])

    assert sorted(results, key=str) == sorted(
        [(201, None)] + [(400, "discount_exhausted")] * 9, key=str
    )
    discount.refresh_from_db()
    assert discount.uses_count == 5
    assert DiscountUsage.objects.count() == 1
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_per_customer_limit_holds_under_concurrent_checkouts(customer):

    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=2000)
    product.save()
    DiscountFactory(code="MINE", max_uses_per_customer=1)
    # The same customer in five tabs: each checkout needs its own cart contents, so each
    # thread adds the item and applies the code right before the race.
    cart_service.add_item(user=customer, product_id=product.pk, quantity=1)
    cart_service.apply_code(user=customer, code="MINE")

    results = [status for status, _ in post_together([(customer, *CHECKOUT)] * 5)]

    assert DiscountUsage.objects.filter(user=customer).count() == 1
    assert Order.objects.filter(user=customer, discount__isnull=False).count() == 1
    assert results.count(201) >= 1
