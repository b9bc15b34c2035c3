"""Money is shown in one place (core.money) that knows each currency's exponent: pages,
e-mails, PDFs and API ``display`` fields alike."""

import pytest
from django.core import mail
from hypothesis import given
from hypothesis import strategies as st

from billing.pdf import render_invoice_pdf
from billing.services.subscriptions import lifecycle as service
from catalog.factories import PlanFactory
from core.money import currency_exponent, format_money, to_major_units, to_minor_units


def test_exponents_and_formatting_of_jpy_usd_kwd():
    assert [currency_exponent(c) for c in ("jpy", "usd", "kwd")] == [0, 2, 3]
    assert format_money(7900, "jpy") == "¥7,900"
    assert format_money(7900, "usd") == "$79.00"
    assert format_money(7900, "kwd") == "KWD7.900"
    assert format_money(-7900, "usd") == "-$79.00"


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(["usd", "jpy", "kwd", "eur", "gbp", "bhd", "krw"]),
)
def test_minor_units_round_trip_through_major_units(amount, currency):
    assert to_minor_units(to_major_units(amount, currency), currency) == amount


@pytest.fixture
def yen_plan(db):

    plan = PlanFactory(slug="yen", name="Yen plan", billing_source="manual")
    for price, amount in ((plan.monthly_price, 7900), (plan.yearly_price, 79000)):
        price.unit_amount, price.currency = amount, "jpy"
        price.save(update_fields=["unit_amount", "currency"])
    return plan


@pytest.mark.django_db
def test_a_yen_invoice_reads_in_yen_in_the_email_the_page_the_pdf_and_the_api(
    no_stripe, customer, customer_client, customer_api, yen_plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub = service.subscribe(user=customer, plan="yen", interval="month").subscription
    invoice = sub.invoices.get()
    body = "\n".join(message.body for message in mail.outbox)
    assert "¥7,900" in body and "79.00" not in body
    page = customer_client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "¥7,900" in page

    assert render_invoice_pdf(invoice, business_name="B", business_address="A")[:4] == b"%PDF"
    answer = customer_api.get("/api/v1/invoices/").json()
    row = answer["results"][0] if "results" in answer else answer[0]
    assert row["display"]["total"] == "¥7,900" and row["total"] == 7900
