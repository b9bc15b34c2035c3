"""Cart, pricing and the manual (bank transfer) checkout, end to end."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.factories import DiscountFactory, OrderFactory, OrderItemFactory
from billing.models import (
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from billing.pricing import build_quote, resolve_line
from billing.services.payments import mark_order_paid, mark_paid_manually
from billing.tests.factories_helpers import priced_product
from catalog.factories import PriceFactory, PricingTierFactory, VariantFactory
from catalog.models import Price, ProductStatus
from core.api import DomainError
from core.models import AuditLog
from credits.models import CreditBalance


@pytest.mark.django_db
def test_cart_api_add_change_remove(customer_api, product):
    added = customer_api.post(
        "/api/v1/cart/", {"product_id": product.pk, "quantity": 2}, format="json"
    )
    assert added.status_code == 201
    item_id = added.json()["items"][0]["id"]
    assert added.json()["subtotal"] == 3800

    again = customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    assert again.json()["items"][0]["quantity"] == 3

    changed = customer_api.patch(f"/api/v1/cart/items/{item_id}/", {"quantity": 1}, format="json")
    assert changed.status_code == 200 and changed.json()["total"] == 1900
    assert customer_api.get(f"/api/v1/cart/items/{item_id}/").json()["quantity"] == 1

    bad = customer_api.patch(f"/api/v1/cart/items/{item_id}/", {"quantity": 0}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"

    assert customer_api.delete(f"/api/v1/cart/items/{item_id}/").status_code == 204
    assert customer_api.get("/api/v1/cart/").json()["items"] == []

    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    assert customer_api.delete("/api/v1/cart/").status_code == 204
    assert customer_api.get("/api/v1/cart/").json()["items"] == []


@pytest.mark.django_db
def test_cart_items_of_another_customer_are_404(customer_api, other_customer_api, product):
    item_id = customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").json()[
        "items"
    ][0]["id"]
    for method in ("get", "patch", "delete"):
        response = getattr(other_customer_api, method)(
            f"/api/v1/cart/items/{item_id}/", {"quantity": 5}, format="json"
        )
        assert response.status_code == 404, method
    assert customer_api.get(f"/api/v1/cart/items/{item_id}/").json()["quantity"] == 1


@pytest.mark.django_db
def test_cart_refuses_unpublished_products_foreign_prices_and_mixed_currencies(
    customer_api, product
):
    draft = priced_product(status=ProductStatus.DRAFT)
    assert (
        customer_api.post("/api/v1/cart/", {"product_id": draft.pk}, format="json").json()["code"]
        == "product_unavailable"
    )
    foreign = PriceFactory()
    response = customer_api.post(
        "/api/v1/cart/", {"product_id": product.pk, "price_id": foreign.pk}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "price_invalid"
    euro = priced_product(currency="eur")
    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    mixed = customer_api.post("/api/v1/cart/", {"product_id": euro.pk}, format="json")
    assert mixed.status_code == 400 and mixed.json()["code"] == "mixed_currencies"
    assert len(customer_api.get("/api/v1/cart/").json()["items"]) == 1


@pytest.mark.django_db
def test_cart_refuses_more_than_the_stock(customer_api):
    limited = priced_product(track_inventory=True, stock_quantity=2)
    response = customer_api.post(
        "/api/v1/cart/", {"product_id": limited.pk, "quantity": 3}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"


@pytest.mark.django_db
def test_tax_is_per_product_rate_rounded_half_up_after_discount():
    taxed = priced_product(amount=999, tax_rate=Decimal("0.2000"))
    line = resolve_line(product=taxed, quantity=1)
    quote = build_quote([line])
    assert (quote.subtotal, quote.tax, quote.total) == (999, 200, 1199)  # 199.8 -> 200


@pytest.mark.django_db
def test_percentage_discount_is_spread_so_lines_add_up():

    a, b, c = (priced_product(amount=333) for _ in range(3))
    lines = [resolve_line(product=p, quantity=1) for p in (a, b, c)]
    quote = build_quote(lines, discount=DiscountFactory(percent_off=Decimal("10")))
    assert quote.discount_amount == 100  # 99.9 -> 100
    assert sorted(line.discount_amount for line in quote.lines) == [33, 33, 34]
    assert quote.total == quote.subtotal - quote.discount_amount + quote.tax


@pytest.mark.django_db
def test_tiered_and_variant_prices():
    product = priced_product(amount=0)
    graduated = PriceFactory(product=product, tiers_mode=Price.TiersMode.GRADUATED)
    PricingTierFactory(price=graduated, up_to=10, unit_amount=100)
    PricingTierFactory(price=graduated, up_to=None, unit_amount=50)
    line = resolve_line(product=product, quantity=15, price=graduated)
    assert line.line_total == 10 * 100 + 5 * 50

    variant = VariantFactory(product=product, price_amount=4900)
    assert resolve_line(product=product, quantity=2, variant=variant).line_total == 9800


@pytest.mark.django_db
def test_checkout_recomputes_totals_and_ignores_client_amounts(customer_api):
    taxed = priced_product(amount=1000, tax_rate=Decimal("0.1"))
    customer_api.post("/api/v1/cart/", {"product_id": taxed.pk, "quantity": 3}, format="json")

    response = customer_api.post(
        "/api/v1/checkout/",
        {
            "payment_method": "manual",
            "total": 1,
            "subtotal": 1,
            "tax": 0,
            "items": [{"unit_amount": 1}],
        },
        format="json",
    )

    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.subtotal, order.discount_amount, order.tax, order.total) == (3000, 0, 300, 3300)
    assert response.json()["order"]["total"] == 3300


@pytest.mark.django_db
def test_checkout_with_an_empty_cart_is_refused(customer_api):
    response = customer_api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "cart_empty"
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_order_constraints_hold_in_the_database(customer):

    for bad in [
        dict(subtotal=100, total=90),
        dict(subtotal=100, total=100, refunded_amount=101),
        dict(subtotal=0, discount_amount=0, total=-1),
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            OrderFactory(user=customer, **bad)


def _checkout_by_bank_transfer(customer_api, digital_product):
    """The product in the cart at half price (WELCOME), checked out to pay by bank transfer:
    the order's number and its open invoice."""
    DiscountFactory(code="WELCOME", percent_off=50)
    customer_api.post("/api/v1/cart/", {"product_id": digital_product.pk}, format="json")
    assert (
        customer_api.patch("/api/v1/cart/", {"discount_code": "welcome"}, format="json").json()[
            "total"
        ]
        == 500
    )

    response = customer_api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")
    assert response.status_code == 201
    number = response.json()["order"]["number"]
    assert number.startswith("ORD-") and response.json()["invoice"]["total"] == 500
    invoice = Invoice.objects.get(order__number=number)
    assert invoice.status == InvoiceStatus.OPEN and invoice.payment_reference == number
    return number, invoice


@pytest.mark.django_db
def test_manual_checkout_end_to_end(
    customer_api,
    customer,
    customer_client,
    staff_console,
    digital_product,
    django_capture_on_commit_callbacks,
):

    number, invoice = _checkout_by_bank_transfer(customer_api, digital_product)

    page = customer_client.get(f"/orders/{number}/")
    assert page.status_code == 200
    assert "How to pay" in page.content.decode() and invoice.number in page.content.decode()
    assert customer_client.get(f"/orders/{number}/invoice/").status_code == 200
    order = Order.objects.get(number=number)
    early = customer_api.get(f"/api/v1/orders/{number}/items/{order.items.get().pk}/download/")
    assert early.status_code == 403 and early.json()["code"] == "download_order_not_paid"

    with django_capture_on_commit_callbacks(execute=True):
        marked = staff_console.post(
            "/admin/billing/order/",
            {"action": "action_mark_paid", "_selected_action": [order.pk], "confirm": "yes"},
        )
    assert marked.status_code == 302

    order.refresh_from_db()
    invoice.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.payment_status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_due == 0
    payment = Payment.objects.get(order=order)
    assert payment.amount == 500 and payment.provider == "manual"
    assert AuditLog.objects.filter(
        resource_id=str(order.pk), context__operation="order_paid"
    ).exists()

    item = order.items.get()
    download = customer_api.get(f"/api/v1/orders/{number}/items/{item.pk}/download/")
    assert download.status_code == 302
    assert download["Location"] == "https://files.example.com/ebook.pdf"
    item.refresh_from_db()
    assert item.download_count == 1 and item.access_expires_at is not None

    # Marking paid twice changes nothing.
    staff_console.post(
        "/admin/billing/order/",
        {"action": "action_mark_paid", "_selected_action": [order.pk], "confirm": "yes"},
    )
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_mark_paid_refuses_stripe_orders(admin_user, customer):

    order = OrderFactory(user=customer, billing_source="stripe")
    with pytest.raises(DomainError) as refused:
        mark_paid_manually(order_id=order.pk, actor=admin_user)
    assert refused.value.code == "order_not_payable"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.django_db
def test_payment_decrements_tracked_stock_and_never_below_zero(customer):

    limited = priced_product(track_inventory=True, stock_quantity=3)
    first = OrderFactory(user=customer, subtotal=3800)
    OrderItemFactory(order=first, product=limited, quantity=2, unit_amount=1900)
    second = OrderFactory(user=customer, subtotal=3800)
    OrderItemFactory(order=second, product=limited, quantity=2, unit_amount=1900)

    mark_order_paid(
        order_id=first.pk, provider="manual", provider_id="a", amount=3800, currency="usd"
    )
    limited.refresh_from_db()
    assert limited.stock_quantity == 1
    mark_order_paid(
        order_id=second.pk, provider="manual", provider_id="b", amount=3800, currency="usd"
    )
    limited.refresh_from_db()
    second.refresh_from_db()
    assert limited.stock_quantity == 1
    assert second.metadata["stock_shortfall"][0]["quantity"] == 2
    assert second.status == OrderStatus.COMPLETED


@pytest.mark.django_db
def test_credit_pack_payment_grants_credits_once(customer, credit_pack):

    order = OrderFactory(user=customer, subtotal=1800)
    OrderItemFactory(
        order=order, product=credit_pack, quantity=2, unit_amount=900, credits_granted=200
    )
    for _ in range(2):
        mark_order_paid(
            order_id=order.pk, provider="manual", provider_id="x", amount=1800, currency="usd"
        )
    assert CreditBalance.objects.get(user=customer).balance == 200


@pytest.mark.django_db
def test_zero_total_order_completes_without_payment(customer_api):

    free = priced_product(amount=1000)
    DiscountFactory(code="FREE", percent_off=100)
    customer_api.post("/api/v1/cart/", {"product_id": free.pk}, format="json")
    response = customer_api.post(
        "/api/v1/checkout/", {"discount_code": "FREE", "payment_method": "manual"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["order"]["status"] == "COMPLETED"
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_cart_and_checkout_pages(customer_client, product):
    assert "Your cart is empty" in customer_client.get("/cart/").content.decode()
    response = customer_client.post(
        "/cart/", {"action": "add", "product_id": product.pk, "quantity": 1}
    )
    assert response.status_code == 302
    page = customer_client.get("/cart/").content.decode()
    assert "Widget" in page
    bad = customer_client.post("/cart/", {"action": "apply_code", "code": "NOPE"})
    assert bad.status_code == 400
    assert "There is no discount with this code." in bad.content.decode()
    placed = customer_client.post("/checkout/", {"payment_method": "manual"})
    assert placed.status_code == 302
    order = Order.objects.get()
    assert placed["Location"] == f"/orders/{order.number}/"
    assert customer_client.get("/checkout/success/?session_id=cs_none").status_code == 200
    assert customer_client.get("/checkout/cancel/").status_code == 200


@pytest.mark.django_db
def test_pages_need_login(client):
    for url in ("/cart/", "/checkout/", "/orders/"):
        assert client.get(url).status_code == 302


@pytest.mark.django_db
def test_checkout_page_shows_refusals_as_form_errors(no_stripe, customer_client, product):
    customer_client.post("/cart/", {"action": "add", "product_id": product.pk, "quantity": 1})
    response = customer_client.post("/checkout/", {"payment_method": "stripe"})
    assert response.status_code == 400
    assert "Card payment through Stripe is not available" in response.content.decode()
    assert Order.objects.count() == 0
    empty = customer_client.get("/checkout/")
    assert empty.status_code == 200  # the cart is still there
