"""With Stripe Tax off, a Stripe subscription carries our own tax rule's rate as a Stripe
TaxRate (``default_tax_rates``), made once per country and percentage and then reused; a
reverse charge carries none, and with STRIPE_AUTOMATIC_TAX Stripe computes the tax instead.
The Stripe double answers ``POST /v1/tax_rates`` and checks its use as Stripe does."""

from decimal import Decimal

import pytest

from accounts.factories import UserFactory
from billing.models import StripeTaxRate, TaxRate
from billing.services.subscriptions import lifecycle
from billing.stripe import client as stripe_client
from catalog.factories import PlanFactory
from core.models import SystemConfig
from core.system_config import forget

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_seller(db, settings):
    settings.STRIPE_AUTOMATIC_TAX = False
    for key, value in (("billing.seller_country", "DE"), ("business_tax_id", "DE136695976")):
        SystemConfig.objects.update_or_create(key=key, defaults={"value": value})
        forget(key)
    TaxRate.objects.create(country="DE", name="VAT", rate=Decimal("0.19"))
    TaxRate.objects.create(country="FR", name="TVA", rate=Decimal("0.20"))
    PlanFactory(slug="cardplan", name="Card plan", billing_source="stripe")
    yield
    for key in ("billing.seller_country", "business_tax_id"):
        forget(key)


def _in(country, tax_id=""):
    return UserFactory(billing_address={"country": country}, tax_id=tax_id)


def _subscribe(double, user) -> dict:
    """Start a card subscription; the checkout session's parameters as Stripe received
    them."""
    lifecycle.subscribe(
        user=user,
        plan="cardplan",
        interval="month",
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
    )
    return double.calls("POST", "/v1/checkout/sessions")[-1].params


def test_a_taxed_customers_subscription_carries_our_rate_made_once_and_reused(
    german_seller, stripe_double
):
    first = _subscribe(stripe_double, _in("DE"))
    [rate_id] = first["subscription_data"]["default_tax_rates"]
    [created] = stripe_double.calls("POST", "/v1/tax_rates")
    assert created.params["percentage"] == "19.0" and created.params["inclusive"] == "false"
    assert created.idempotency_key
    rate = stripe_double.get("tax_rate", rate_id)
    assert (rate["percentage"], rate["country"], rate["inclusive"], rate["display_name"]) == (
        19.0,
        "DE",
        False,
        "VAT",
    )
    assert "automatic_tax" not in first
    stored = StripeTaxRate.objects.get()
    assert (stored.country, stored.percentage, stored.stripe_tax_rate_id) == (
        "DE",
        Decimal("19.0000"),
        rate_id,
    )

    # Another German customer: the same Stripe TaxRate, nothing new made.
    second = _subscribe(stripe_double, _in("DE"))
    assert second["subscription_data"]["default_tax_rates"] == [rate_id]
    assert len(stripe_double.calls("POST", "/v1/tax_rates")) == 1

    # A French consumer: France's own rate, made once.
    french = _subscribe(stripe_double, _in("FR"))
    [french_id] = french["subscription_data"]["default_tax_rates"]
    assert french_id != rate_id and stripe_double.get("tax_rate", french_id)["percentage"] == 20.0
    assert StripeTaxRate.objects.count() == 2


def test_a_reverse_charge_carries_no_tax_rate(german_seller, stripe_double):
    session = _subscribe(stripe_double, _in("FR", "FR40303265045"))
    assert "default_tax_rates" not in session["subscription_data"]
    assert stripe_double.calls("POST", "/v1/tax_rates") == []
    assert not StripeTaxRate.objects.exists()


def test_with_automatic_tax_stripe_computes_it_and_no_rate_is_sent(
    german_seller, stripe_double, settings
):
    settings.STRIPE_AUTOMATIC_TAX = True
    session = _subscribe(stripe_double, _in("DE"))
    assert session["automatic_tax"] == {"enabled": "true"}
    assert "default_tax_rates" not in session["subscription_data"]
    assert stripe_double.calls("POST", "/v1/tax_rates") == []


def test_the_double_checks_tax_rates_as_stripe_does(stripe_double):
    with pytest.raises(stripe_client.stripe.InvalidRequestError) as missing:
        stripe_client.create_tax_rate(display_name="VAT", inclusive=False, idempotency_key="k1")
    assert missing.value.code == "parameter_missing" and missing.value.param == "percentage"
    with pytest.raises(stripe_client.stripe.InvalidRequestError) as unknown:
        stripe_client.create_tax_rate(
            display_name="VAT", inclusive=False, percentage=19, rate=19, idempotency_key="k2"
        )
    assert unknown.value.code == "parameter_unknown" and unknown.value.param == "rate"
    with pytest.raises(stripe_client.stripe.InvalidRequestError) as too_high:
        stripe_client.create_tax_rate(
            display_name="VAT", inclusive=False, percentage=120, idempotency_key="k3"
        )
    assert too_high.value.param == "percentage"
    made = stripe_client.create_tax_rate(
        display_name="VAT", inclusive=False, percentage=7.5, country="DE", idempotency_key="k4"
    )
    assert made["object"] == "tax_rate" and made["id"].startswith("txr_")
    assert made["percentage"] == 7.5 and made["inclusive"] is False
    # Stripe answers a repeated idempotency key with the first object.
    again = stripe_client.create_tax_rate(
        display_name="VAT", inclusive=False, percentage=7.5, country="DE", idempotency_key="k4"
    )
    assert again["id"] == made["id"]
    assert stripe_client.retrieve_object("tax_rate", made["id"])["id"] == made["id"]


def test_a_session_naming_an_unknown_tax_rate_is_refused(stripe_double, german_seller):
    price = stripe_client.create_price(
        idempotency_key="p1",
        unit_amount=900,
        currency="usd",
        product="prod_x",
        recurring={"interval": "month"},
    )
    base = {
        "mode": "subscription",
        "line_items": [{"price": price["id"], "quantity": 1}],
        "success_url": "https://x.test/ok",
        "cancel_url": "https://x.test/no",
    }
    with pytest.raises(stripe_client.stripe.InvalidRequestError) as unknown:
        stripe_client.create_checkout_session(
            params={**base, "subscription_data": {"default_tax_rates": ["txr_nope"]}},
            idempotency_key="s1",
        )
    assert unknown.value.code == "resource_missing"
    rate = stripe_client.create_tax_rate(
        display_name="VAT", inclusive=False, percentage=19, idempotency_key="t1"
    )
    with pytest.raises(stripe_client.stripe.InvalidRequestError):
        stripe_client.create_checkout_session(
            params={
                **base,
                "automatic_tax": {"enabled": True},
                "subscription_data": {"default_tax_rates": [rate["id"]]},
            },
            idempotency_key="s2",
        )
