"""A promotion code's limits hold under concurrency on PostgreSQL: requests in their own
threads and database connections, released together (``races.post_together``)."""

import pytest

from accounts.factories import UserFactory
from billing.factories import DiscountFactory
from billing.models import Discount, DiscountUsage, PromotionCode
from billing.services import cart as cart_service
from billing.tests.races import CHECKOUT, post_together
from catalog.factories import PlanFactory, PriceFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE = ("/api/v1/subscriptions/", {"plan": "office", "interval": "month"})


def _catalog():
    PlanFactory(slug="office", name="Office", billing_source="manual")
    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=2000)
    product.save()
    return product


def test_n_concurrent_redemptions_of_a_code_with_total_limit_k_give_exactly_k(no_stripe):
    """Ten requests, orders and subscriptions, race for a code with three uses."""
    product = _catalog()
    coupon = DiscountFactory(code="SPRING-COUPON", percent_off=25)
    promotion = PromotionCode.objects.create(discount=coupon, code="SPRING25", max_redemptions=3)
    # Another code of the same coupon, used at the same time, is not held back by it.
    other = PromotionCode.objects.create(discount=coupon, code="PARTNER-ACME")
    buyers = [UserFactory() for _ in range(5)]
    for user in buyers:
        cart_service.add_item(user=user, product_id=product.pk)
        cart_service.apply_code(user=user, code="SPRING25")
    subscribers = [UserFactory() for _ in range(5)]
    partners = [UserFactory() for _ in range(2)]
    subscribe = (SUBSCRIBE[0], {**SUBSCRIBE[1], "discount_code": "spring25"})
    partner = (SUBSCRIBE[0], {**SUBSCRIBE[1], "discount_code": "PARTNER-ACME"})

    results = post_together(
        [(user, *CHECKOUT) for user in buyers]
        + [(user, *subscribe) for user in subscribers]
        + [(user, *partner) for user in partners]
    )

    assert len(results) == 12
    assert sum(1 for status, _ in results if status == 201) == 3 + 2, results
    refused = [code for status, code in results if status != 201]
    assert refused == ["promotion_code_exhausted"] * 7, results
    promotion.refresh_from_db()
    other.refresh_from_db()
    coupon = Discount.objects.get(pk=coupon.pk)
    assert (
        promotion.times_redeemed
        == 3
        == DiscountUsage.objects.filter(promotion_code=promotion).count()
    )
    assert other.times_redeemed == 2 == DiscountUsage.objects.filter(promotion_code=other).count()
    assert coupon.uses_count == 5 == DiscountUsage.objects.filter(discount=coupon).count()


def test_one_customer_in_several_tabs_gets_a_once_per_customer_code_once(no_stripe):
    product = _catalog()
    coupon = DiscountFactory(code="WELCOME-COUPON", percent_off=10)
    promotion = PromotionCode.objects.create(
        discount=coupon, code="HELLO", max_per_customer=1, first_time_only=True
    )
    user = UserFactory()
    cart_service.add_item(user=user, product_id=product.pk)
    cart_service.apply_code(user=user, code="HELLO")
    subscribe = (SUBSCRIBE[0], {**SUBSCRIBE[1], "discount_code": "HELLO"})

    results = post_together([(user, *CHECKOUT), (user, *subscribe)] * 3)

    assert sum(1 for status, _ in results if status == 201) == 1, results
    assert DiscountUsage.objects.filter(promotion_code=promotion, user=user).count() == 1
    promotion.refresh_from_db()
    assert promotion.times_redeemed == 1
