"""A receipt for every payment: the e-mail (HTML and text, branded, through the outbox), the
page and the PDF; a refund e-mail; the Payments page and API; saved cards through Stripe's
billing portal (Stripe faked at the HTTP boundary)."""

import re

import pytest
from django.core import mail

from billing.models import CustomerBillingProfile, Invoice, Order, Payment
from billing.services import payments, refunds
from billing.services.invoice_lines import reconciliation_problems
from billing.services.invoices import email_new_invoice_on_commit
from billing.services.subscriptions.state import email_past_due
from catalog.factories import PriceFactory, ProductFactory
from core import outbox
from core.models import SystemConfig
from core.outbox.models import OutboxMessage
from core.system_config import forget
from tests.staff_authority_table import open_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def branded(db):
    values = {
        "business_name": "Northwind Tools Ltd",
        "business_address": "9 Quay, Leeds",
        "business_tax_id": "GB123456789",
        "business_logo_url": "/static/brand/logo.png",
    }
    for key, value in values.items():
        SystemConfig.objects.create(key=key, value=value)
        forget(key)
    yield values
    for key in values:
        forget(key)


@pytest.fixture
def taxed_product(db):

    item = ProductFactory(name="Course", tax_rate="0.2000")
    item.default_price = PriceFactory(product=item, unit_amount=5000, currency="usd")
    item.save(update_fields=["default_price"])
    return item


def _order(customer_api, product):
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
    return Order.objects.latest("id")


def test_bank_transfer_gets_a_branded_receipt_email_page_and_pdf(
    no_stripe,
    branded,
    customer,
    customer_api,
    customer_client,
    taxed_product,
    admin_user,
    django_capture_on_commit_callbacks,
):
    order = _order(customer_api, taxed_product)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payments.mark_paid_manually(order_id=order.pk, actor=admin_user)
    payment = Payment.objects.get(order=order)
    assert payment.receipt_number and payment.receipt_number.startswith("RCT-")
    assert (
        OutboxMessage.objects.filter(
            task="billing.tasks.send_payment_receipt", args=[payment.pk]
        ).count()
        == 1
    )
    [message] = [m for m in mail.outbox if "Payment received" in m.subject]
    assert message.to == [customer.email] and payment.receipt_number in message.subject
    for part in (message.body, message.alternatives[0][0]):
        assert "$60.00" in part and "20%" in part and "GB123456789" in part
        assert "Northwind Tools Ltd" in part and order.number in part
    assert message.alternatives[0][1] == "text/html"
    assert "/static/brand/logo.png" in message.alternatives[0][0]

    page = customer_client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert payment.receipt_number in page and "Tax (20%)" in page and "GB123456789" in page
    assert "Bank transfer" in page and "$10.00" in page  # the tax amount
    pdf = customer_client.get(f"/billing/payments/{payment.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # Saving the payment again sends nothing more.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payment.save()
    assert not mail.outbox


def test_someone_elses_receipt_is_404(
    no_stripe, customer_api, taxed_product, admin_user, other_customer_api, client, other_customer
):
    order = _order(customer_api, taxed_product)
    payments.mark_paid_manually(order_id=order.pk, actor=admin_user)
    payment = Payment.objects.get(order=order)
    client.force_login(other_customer)
    assert client.get(f"/billing/payments/{payment.pk}/").status_code == 404
    assert client.get(f"/billing/payments/{payment.pk}/pdf/").status_code == 404
    answer = other_customer_api.get(f"/api/v1/payments/{payment.pk}/")
    assert answer.status_code == 404 and answer.json()["code"] == "payment_not_found"
    assert other_customer_api.get("/api/v1/payments/").json()["count"] == 0


def test_card_payment_refund_payments_page_and_api(
    no_stripe,
    customer,
    customer_api,
    customer_client,
    taxed_product,
    admin_user,
    django_capture_on_commit_callbacks,
):
    empty = customer_client.get("/billing/payments/").content.decode()
    assert "You have made no payments yet." in empty and "no saved cards" in empty
    order = _order(customer_api, taxed_product)
    Order.objects.filter(pk=order.pk).update(billing_source="stripe")
    with django_capture_on_commit_callbacks(execute=True):
        payments.mark_order_paid(
            order_id=order.pk,
            provider="stripe",
            provider_id="pi_test_1",
            amount=order.total,
            currency="usd",
            method={"type": "card", "brand": "visa", "last4": "4242"},
        )
    payment = Payment.objects.get(order=order)
    Order.objects.filter(pk=order.pk).update(billing_source="manual")  # refund by transfer
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refunds.create_refund(
            order_id=order.pk, amount=1500, reason="REQUESTED_BY_CUSTOMER", actor=admin_user
        )
    [notice] = [m for m in mail.outbox if "Refund issued" in m.subject]
    assert "$15.00" in notice.body and order.number in notice.body
    assert "$15.00" in notice.alternatives[0][0]

    page = customer_client.get("/billing/payments/").content.decode()
    row = re.search(r'<table class="billing-table" id="payments">(.*?)</table>', page, re.S)
    assert "Visa ending 4242" in row.group(1) and "$60.00" in row.group(1)
    assert order.number in row.group(1) and "$15.00 succeeded" in row.group(1)
    answer = customer_api.get("/api/v1/payments/").json()
    assert answer["count"] == 1
    [item] = answer["results"]
    assert (item["amount"], item["display"], item["card_brand"], item["card_last4"]) == (
        6000,
        "$60.00",
        "visa",
        "4242",
    )
    assert item["paid_for"] == {
        "kind": "order",
        "number": order.number,
        "url": f"/orders/{order.number}/",
    }
    assert item["refunded"] == 1500 and item["refunds"][0]["display"] == "$15.00"
    assert item["receipt_number"] == payment.receipt_number


def test_saved_cards_open_stripes_billing_portal(stripe_double, customer, customer_client):

    CustomerBillingProfile.objects.update_or_create(
        user=customer, defaults={"stripe_customer_id": "cus_X1"}
    )
    page = customer_client.get("/billing/payments/").content.decode()
    form = re.search(r'<form method="post" action="([^"]+)">', page.split("Saved cards")[1])
    response = customer_client.post(form.group(1))
    assert response.status_code == 302
    assert response["Location"].startswith("https://billing.stripe.test/p/session/")
    [call] = stripe_double.calls("POST", "/v1/billing_portal/sessions")
    assert call.params["customer"] == "cus_X1"


def test_a_card_paid_order_has_a_paid_invoice_with_tax_rate_and_seller_tax_number(
    no_stripe, branded, customer, customer_api, customer_client, taxed_product
):
    order = _order(customer_api, taxed_product)

    Invoice.objects.filter(order=order).delete()  # as a card checkout leaves it: no invoice
    Order.objects.filter(pk=order.pk).update(billing_source="stripe")
    payments.mark_order_paid(
        order_id=order.pk,
        provider="stripe",
        provider_id="pi_card_2",
        amount=order.total,
        currency="usd",
        method={"type": "card", "brand": "visa", "last4": "4242"},
    )
    invoice = Invoice.objects.get(order=order)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("PAID", 6000, 0)
    assert Payment.objects.get(order=order).invoice == invoice

    assert reconciliation_problems(invoice) == []
    page = customer_client.get(f"/orders/{order.number}/invoice/").content.decode()
    assert invoice.number in page and "(20%)" in page and "GB123456789" in page
    assert "Pay by bank transfer" not in page


@pytest.mark.django_db
def test_invoice_and_payment_failed_notices_are_branded_queued_and_sent_once(
    branded, customer, django_capture_on_commit_callbacks
):
    invoice = open_invoice(customer, 7900)
    with django_capture_on_commit_callbacks(execute=True):
        email_new_invoice_on_commit(invoice)
        email_past_due(invoice.subscription)
    notice, failed = sorted(
        mail.outbox, key=lambda sent: sent.subject != f"Invoice {invoice.number}"
    )
    assert failed.subject == "Your payment failed"
    for sent in (notice, failed):
        assert sent.to == [customer.email]
        assert f"— {branded['business_name']}" in sent.body
        assert f"Tax number: {branded['business_tax_id']}" in sent.body
        [(html, kind)] = sent.alternatives
        assert kind == "text/html" and branded["business_name"] in html
    assert "$79.00" in notice.body and invoice.payment_reference in notice.body
    assert invoice.subscription.plan.name in failed.body
    tasks = set(OutboxMessage.objects.values_list("task", flat=True))
    assert {
        "billing.tasks.send_invoice_notice",
        "billing.tasks.send_payment_failed_notice",
    } <= tasks

    # A paid invoice gets no "new invoice" e-mail, however late the message runs.
    mail.outbox.clear()
    invoice.status = "PAID"
    invoice.save(update_fields=["status"])
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue("billing.tasks.send_invoice_notice", invoice.pk, "reminder")
    assert mail.outbox == []
