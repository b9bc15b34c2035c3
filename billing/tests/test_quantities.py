"""One quantity limit (tiers and stock) for the product page, the cart and the API; volume
tiers that start at thousands of units can be bought."""

import re

import pytest

from billing.models import CartItem
from billing.services.cart import MAX_QUANTITY, quantity_limit
from catalog.factories import PriceFactory, PricingTierFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def volume(db):

    product = ProductFactory(name="API calls", slug="api-calls")
    price = PriceFactory(product=product, unit_amount=0, tiers_mode="volume")
    PricingTierFactory(price=price, up_to=1000, unit_amount=10)
    PricingTierFactory(price=price, up_to=10000, unit_amount=8)
    PricingTierFactory(price=price, up_to=None, unit_amount=5)
    product.default_price = price
    product.save(update_fields=["default_price"])
    return product


def _add_through_product_page(client, product, quantity):
    page = client.get(product.get_absolute_url()).content.decode()
    form = re.search(
        r'<form method="post" action="([^"]+)" class="add-to-cart"[^>]*>(.*?)</form>', page, re.S
    )
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    data["quantity"] = str(quantity)
    return client.post(form.group(1), data), page


def test_the_top_volume_tier_can_be_bought_from_the_product_page(customer_client, customer, volume):
    response, page = _add_through_product_page(customer_client, volume, 10001)
    assert f'max="{MAX_QUANTITY}"' in page and f"Up to {MAX_QUANTITY:,}" in page
    assert response.status_code == 302
    item = CartItem.objects.get(cart__user=customer)
    assert item.quantity == 10001
    cart = customer_client.get("/cart/").content.decode()
    assert "$500.05" in cart  # 10,001 units at the 10,001+ tier's 0.05
    assert f'max="{MAX_QUANTITY}"' in cart


def test_the_api_accepts_the_tiers_and_says_the_limit(customer_api, volume):
    answer = customer_api.post(
        "/api/v1/cart/", {"product_id": volume.pk, "quantity": 10001}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    line = answer.json()["items"][0]
    assert line["quantity_limit"] == MAX_QUANTITY and line["line_total"] == 50005
    too_many = customer_api.patch(
        f"/api/v1/cart/items/{line['id']}/", {"quantity": MAX_QUANTITY + 1}, format="json"
    )
    assert too_many.status_code == 400


def test_tracked_stock_is_the_limit_everywhere(customer_client, customer_api, customer):

    product = ProductFactory(
        name="Boxed kit", slug="boxed-kit", track_inventory=True, stock_quantity=5
    )
    product.default_price = PriceFactory(product=product, unit_amount=1000)
    product.save(update_fields=["default_price"])
    assert quantity_limit(product) == 5
    response, page = _add_through_product_page(customer_client, product, 6)
    assert 'max="5"' in page and "Up to 5 (in stock)" in page
    assert response.status_code == 400  # the cart page shows the refusal
    assert "Only 5 left in stock." in response.content.decode()
    assert not CartItem.objects.filter(cart__user=customer).exists()
    api = customer_api.post(
        "/api/v1/cart/", {"product_id": product.pk, "quantity": 6}, format="json"
    )
    assert api.status_code == 409 and api.json()["code"] == "insufficient_stock"
    assert (
        customer_api.post(
            "/api/v1/cart/", {"product_id": product.pk, "quantity": 5}, format="json"
        ).status_code
        == 201
    )
