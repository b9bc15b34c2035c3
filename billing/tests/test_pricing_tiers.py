"""Tiered prices are priced by catalog's one implementation; a tier set that cannot price a
quantity is a 400 (price_invalid), never a 500."""

import pytest

from billing.models import Cart, CartItem
from catalog.factories import PriceFactory, PricingTierFactory, ProductFactory


@pytest.fixture
def tiered(db):

    product = ProductFactory(name="Seats")
    price = PriceFactory(product=product, unit_amount=0, tiers_mode="graduated")
    PricingTierFactory(price=price, up_to=5, unit_amount=100)
    product.default_price = price
    product.save(update_fields=["default_price"])
    return product, price


@pytest.mark.django_db
def test_tiered_price_within_tiers_uses_catalog_pricing(customer_api, tiered):
    product, price = tiered
    response = customer_api.post(
        "/api/v1/cart/",
        {"product_id": product.pk, "quantity": 3, "price_id": price.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == 300


@pytest.mark.django_db
def test_quantity_beyond_a_closed_last_tier_is_refused_with_price_invalid(
    customer_api, tiered, customer
):
    product, price = tiered
    response = customer_api.post(
        "/api/v1/cart/",
        {"product_id": product.pk, "quantity": 6, "price_id": price.pk},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "price_invalid"
    assert not CartItem.objects.filter(cart__user=customer).exists()


@pytest.mark.django_db
def test_reading_a_cart_line_that_can_no_longer_be_priced_is_a_400_not_a_500(
    customer_api, customer
):

    item = CartItem.objects.create(
        cart=Cart.objects.create(user=customer), product=ProductFactory(), quantity=1
    )
    response = customer_api.get(f"/api/v1/cart/items/{item.pk}/")
    assert response.status_code == 400
    assert response.json()["code"] == "product_unavailable"
