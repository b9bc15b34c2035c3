"""Bad input on the shop's forms is refused beside the field that caused it, with what was
typed kept, and changes nothing: each form is read from its page and posted to its own
action, as a browser would."""

import pytest

from billing.factories import DiscountFactory
from billing.models import CartItem
from catalog.factories import PriceFactory, ProductFactory
from catalog.models import Review
from config.tests.page_forms import find_form, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget():
    product = ProductFactory(name="Quantum Widget", slug="quantum-widget")
    PriceFactory(product=product, unit_amount=2500)
    return product


def test_a_quantity_that_is_not_a_number_is_a_form_error(customer_client, widget):
    page = customer_client.get("/catalog/quantum-widget/")
    form = find_form(page, action="/cart/")
    response = submit(customer_client, page, form, {"quantity": "abc"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="add-quantity-errors"' in html and "Enter a whole number of at least 1." in html
    assert 'value="abc"' in html and 'aria-invalid="true"' in html
    assert not CartItem.objects.exists()

    response = submit(customer_client, page, form, {"quantity": "2"})
    assert response.status_code == 302
    assert CartItem.objects.get().quantity == 2


def test_the_cart_explains_an_empty_or_unknown_code_beside_the_field(customer_client, widget):
    DiscountFactory(code="WELCOME10", percent_off=10)
    customer_client.post("/cart/", {"action": "add", "product_id": widget.pk, "quantity": "1"})
    page = customer_client.get("/cart/")
    form = find_form(page, has="code")

    response = submit(customer_client, page, form, {"code": "   "})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="code-errors"' in html and "Enter a discount code to apply." in html

    response = submit(customer_client, page, form, {"code": "NOPE"})
    html = response.content.decode()
    assert 'id="code-errors"' in html and "There is no discount with this code." in html
    assert 'value="NOPE"' in html

    quantity = find_form(page, has="quantity")
    response = submit(customer_client, page, quantity, {"quantity": "lots"})
    assert response.status_code == 400
    item = CartItem.objects.get()
    assert f'id="qty-{item.pk}-errors"' in response.content.decode()
    assert item.quantity == 1


def test_the_review_form_opens_at_its_errors(customer_client, widget):
    page = customer_client.get("/catalog/quantum-widget/")
    form = find_form(page, form_id="write-review")
    assert form.action.endswith("#write-review")
    response = submit(customer_client, page, form, {"title": "No stars given"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="write-review"' in html and 'id="rating-errors"' in html
    # The error is inside the form the page opens at.
    assert html.index('id="write-review"') < html.index('id="rating-errors"')
    assert not Review.objects.exists()
