"""The product page has an "Add to cart" form that puts the product in the cart."""

import re

import pytest

from billing.models import CartItem
from catalog.factories import PlanFactory, PriceFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def _form(html: str) -> str:
    match = re.search(
        r'<form method="post" action="/cart/" class="add-to-cart".*?</form>', html, re.S
    )
    return match.group(0) if match else ""


def test_product_page_form_adds_the_product_to_the_cart(customer_client, customer):
    price = PriceFactory(product=ProductFactory(slug="widget"), unit_amount=1999)
    form = _form(customer_client.get("/catalog/widget/").content.decode())
    assert 'name="action" value="add"' in form
    assert f'name="product_id" value="{price.product.pk}"' in form
    assert '<label for="add-quantity">Quantity</label>' in form

    response = customer_client.post(
        "/cart/", {"action": "add", "product_id": price.product.pk, "quantity": 2}
    )

    assert response.status_code in (200, 302)
    item = CartItem.objects.get(cart__user=customer)
    assert (item.product_id, item.quantity) == (price.product.pk, 2)


def test_variants_are_offered_as_options(customer_client):
    product = ProductFactory(slug="suite")
    variant = VariantFactory(product=product, name="Team licence")
    form = _form(customer_client.get("/catalog/suite/").content.decode())
    assert f'<option value="{variant.pk}">Team licence' in form


def test_no_form_for_subscriptions_or_products_without_a_price(client):
    plan = PlanFactory()
    assert _form(client.get(f"/catalog/{plan.product.slug}/").content.decode()) == ""
    ProductFactory(slug="unpriced")
    assert _form(client.get("/catalog/unpriced/").content.decode()) == ""


def test_no_form_when_out_of_stock(client):
    product = ProductFactory(slug="gone", track_inventory=True, stock_quantity=0)
    PriceFactory(product=product)
    html = client.get("/catalog/gone/").content.decode()
    assert _form(html) == ""
    assert "Out of stock." in html
