"""Tax, one rule everywhere: the customer's country (else the seller's), a reverse charge for a
valid VAT number of another EU country, the staff's rate per country, else the product's,
else default_tax_rate; the same for one-time orders, manual subscriptions, plan changes and
Stripe's checkout (automatic tax)."""

from decimal import Decimal

import pytest

from billing.models import Order, TaxRate
from billing.services import invoice_lines
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle, plan_change
from billing.tax import tax_for, valid_eu_vat
from catalog.factories import PlanFactory, PriceFactory, ProductFactory
from core.models import SystemConfig
from core.system_config import forget

pytestmark = pytest.mark.django_db


def _config(key, value):
    SystemConfig.objects.update_or_create(key=key, defaults={"value": value})
    forget(key)


@pytest.fixture
def german_seller(db):
    _config("billing.seller_country", "DE")
    _config("business_tax_id", "DE136695976")
    TaxRate.objects.create(country="DE", name="VAT", rate=Decimal("0.19"))
    TaxRate.objects.create(country="FR", name="TVA", rate=Decimal("0.20"))
    yield
    for key in ("billing.seller_country", "business_tax_id", "default_tax_rate"):
        forget(key)


@pytest.fixture
def untaxed_plan(db):

    plan = PlanFactory(slug="office", name="Office", billing_source="manual")
    plan.product.tax_rate = "0.0000"
    plan.product.save(update_fields=["tax_rate"])
    return plan


def _customer_in(user, country, tax_id=""):
    user.billing_address = {"country": country}
    user.tax_id = tax_id
    user.save()
    return user


def test_the_rule(german_seller, customer):

    product = ProductFactory(tax_rate="0.0700")
    assert valid_eu_vat("FR40303265045", "FR") and not valid_eu_vat("FR40303265046", "FR")
    assert not valid_eu_vat("DE136695976", "FR")  # another country's number
    # Unknown country: the seller's.
    assert tax_for(customer, product=product).rate == Decimal("0.19")
    _customer_in(customer, "FR")
    decision = tax_for(customer, product=product)
    assert (decision.rate, decision.name, decision.reverse_charge) == (
        Decimal("0.20"),
        "TVA",
        False,
    )
    _customer_in(customer, "FR", "FR 40 303 265 045")
    decision = tax_for(customer, product=product)
    assert decision.reverse_charge and decision.rate == 0
    _customer_in(customer, "DE", "DE136695976")  # same country as the seller: no reverse charge
    assert tax_for(customer, product=product).rate == Decimal("0.19")
    _customer_in(customer, "US")  # no rate for the country: the product's own
    assert tax_for(customer, product=product).rate == Decimal("0.07")
    _config("default_tax_rate", "0.05")  # the setting is the last resort, and it works
    assert tax_for(customer, product=ProductFactory(tax_rate="0")).rate == Decimal("0.05")


def test_orders_subscriptions_and_plan_changes_charge_the_same_rate(
    no_stripe, german_seller, customer, customer_api, customer_client, untaxed_plan, admin_user
):

    _customer_in(customer, "FR")
    product = ProductFactory(tax_rate="0.0000")
    product.default_price = PriceFactory(product=product, unit_amount=1000)
    product.save(update_fields=["default_price"])
    assert (
        customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code
        == 201
    )
    assert (
        customer_api.post(
            "/api/v1/checkout/", {"payment_method": "manual"}, format="json"
        ).status_code
        == 201
    )
    order = Order.objects.get(user=customer)
    assert (order.subtotal, order.tax, order.total) == (1000, 200, 1200)

    sub = lifecycle.subscribe(user=customer, plan="office", interval="month").subscription
    invoice = sub.invoices.get()
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1000, 200, 1200)
    assert {"description": "TVA (20.00%)", "amount": 200, "kind": "tax"} in invoice.lines
    page = customer_client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "TVA (20.00%)" in page and "DE136695976" in page

    invoice_service.mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user)
    bigger = PlanFactory(slug="office-plus", name="Office+", billing_source="manual")
    bigger.product.tax_rate = "0.0000"
    bigger.product.save(update_fields=["tax_rate"])
    preview = plan_change.change_plan(
        subscription=sub, plan="office-plus", interval="year", preview=True, actor=customer
    )
    assert preview.lines[-1]["description"] == "TVA (20.00%)"
    assert preview.tax == round((preview.subtotal - preview.discount) * 0.2)


def test_reverse_charge_is_named_on_the_invoice_and_adds_up(
    no_stripe, german_seller, customer, customer_client, untaxed_plan
):
    _customer_in(customer, "FR", "FR40303265045")
    sub = lifecycle.subscribe(user=customer, plan="office", interval="month").subscription
    invoice = sub.invoices.get()
    assert invoice.tax == 0 and invoice.total == invoice.subtotal
    assert any(line["description"].startswith("Reverse charge") for line in invoice.lines)
    assert invoice_lines.reconciliation_problems(invoice) == []
    page = customer_client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "Reverse charge: VAT to be accounted for by the customer" in page
    assert "FR40303265045" in page and "DE136695976" in page


def test_stripe_checkout_uses_stripe_tax_when_automatic_tax_is_on(
    stripe_double, settings, customer
):

    settings.STRIPE_AUTOMATIC_TAX = True
    PlanFactory(slug="cardplan", name="Card plan", billing_source="stripe")
    lifecycle.subscribe(
        user=customer,
        plan="cardplan",
        interval="month",
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
    )
    [call] = stripe_double.calls("POST", "/v1/checkout/sessions")
    assert call.params["automatic_tax"] == {"enabled": "true"} or call.params["automatic_tax"] == {
        "enabled": True
    }
    assert call.params["tax_id_collection"] in ({"enabled": "true"}, {"enabled": True})


def test_staff_manage_rates_per_country_in_the_admin(staff_console):
    page = staff_console.get("/admin/billing/taxrate/add/")
    assert page.status_code == 200
    response = staff_console.post(
        "/admin/billing/taxrate/add/",
        {"country": "IT", "name": "IVA", "rate": "0.2200", "active": "on"},
    )
    assert response.status_code == 302
    assert TaxRate.objects.get(country="IT").rate == Decimal("0.22")
    bad = staff_console.post(
        "/admin/billing/taxrate/add/",
        {"country": "IT", "name": "IVA", "rate": "0.2200", "active": "on"},
    )
    assert bad.status_code == 200 and "already exists" in bad.content.decode()


def test_a_reverse_charged_order_names_it_on_its_invoice(
    no_stripe, german_seller, customer, customer_api, customer_client
):

    _customer_in(customer, "FR", "FR40303265045")
    product = ProductFactory(tax_rate="0.2000")
    product.default_price = PriceFactory(product=product, unit_amount=1000)
    product.save(update_fields=["default_price"])
    assert (
        customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code
        == 201
    )
    assert (
        customer_api.post(
            "/api/v1/checkout/", {"payment_method": "manual"}, format="json"
        ).status_code
        == 201
    )
    order = Order.objects.get(user=customer)
    assert (order.tax, order.total) == (0, 1000)
    invoice = order.invoice
    assert invoice_lines.reconciliation_problems(invoice) == []
    page = customer_client.get(f"/orders/{order.number}/invoice/").content.decode()
    assert "Reverse charge" in page and "FR40303265045" in page and "DE136695976" in page
