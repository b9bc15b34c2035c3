"""Billing test fixtures: the local Stripe double, signed webhook delivery (``signed_post``,
kept in webhook_signing and importable from here), catalog rows, a paid Stripe invoice."""

import time

import pytest
import stripe
from django.test import Client

from accounts.models import StoredFile
from billing.models import CustomerBillingProfile, Invoice, Subscription, SubscriptionStatus
from billing.stripe.sync import ensure_stripe_price
from billing.tests.stripe_double import StripeDouble
from billing.tests.stripe_objects import example
from billing.tests.subscription_helpers import (
    DAY,
    deliver,
    stripe_paid_invoice,
    stripe_subscription,
)
from billing.tests.webhook_signing import WEBHOOK_SECRET, WEBHOOK_URL, signed_post
from catalog.factories import CreditPackFactory, PlanFactory, PriceFactory, ProductFactory
from catalog.models import ProductType

# dj-stripe checks the key's shape (prefix and 24+ characters).
SECRET_KEY = "sk_test_51DoubleLocalStripeDoubleKey"
__all__ = ["SECRET_KEY", "WEBHOOK_SECRET", "WEBHOOK_URL", "signed_post"]


@pytest.fixture(scope="session")
def _stripe_server():
    double = StripeDouble().start()
    yield double
    double.stop()


@pytest.fixture
def stripe_double(_stripe_server, settings):
    """Stripe configured and pointed at the local double; nothing reaches the network."""
    _stripe_server.reset()
    settings.STRIPE = {
        "secret_key": SECRET_KEY,
        "publishable_key": "pk_test_double",
        "webhook_secret": WEBHOOK_SECRET,
        "api_base": _stripe_server.url,
        "live_mode": False,
    }
    settings.STRIPE_TEST_SECRET_KEY = SECRET_KEY
    settings.DJSTRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    previous = (stripe.api_key, stripe.api_base)
    stripe.api_key, stripe.api_base = SECRET_KEY, _stripe_server.url
    yield _stripe_server
    stripe.api_key, stripe.api_base = previous


@pytest.fixture
def staff_console(admin_user):
    """A separate browser for staff, so a test can also use the customer's ``client``."""

    browser = Client()
    browser.force_login(admin_user)
    return browser


@pytest.fixture
def no_stripe(settings):
    """No Stripe keys at all, as in `make run` without configuration."""
    settings.STRIPE = {
        "secret_key": "",
        "publishable_key": "",
        "webhook_secret": "",
        "api_base": "",
        "live_mode": False,
    }


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE = {**settings.STRIPE, "webhook_secret": WEBHOOK_SECRET}
    return WEBHOOK_SECRET


@pytest.fixture
def product(db):
    """A published one-time product at 19.00 USD, no tax."""

    item = ProductFactory(name="Widget")
    item.default_price = PriceFactory(product=item, unit_amount=1900, currency="usd")
    item.save(update_fields=["default_price"])
    return item


@pytest.fixture
def digital_product(db):

    stored = StoredFile.objects.create(
        name="ebook.pdf",
        provider=StoredFile.Provider.URL,
        url="https://files.example.com/ebook.pdf",
        content_type="application/pdf",
        size_bytes=1000,
    )
    item = ProductFactory(
        name="E-book",
        type=ProductType.DIGITAL_DOWNLOAD,
        download_file=stored,
        download_limit=2,
        access_duration_days=30,
    )
    item.default_price = PriceFactory(product=item, unit_amount=1000, currency="usd")
    item.save(update_fields=["default_price"])
    return item


@pytest.fixture
def credit_pack(db):

    item = CreditPackFactory(name="100 credits", credits_granted=100)
    item.default_price = PriceFactory(product=item, unit_amount=900, currency="usd")
    item.save(update_fields=["default_price"])
    return item


@pytest.fixture
def paid(db, customer, stripe_double, client, django_capture_on_commit_callbacks):
    """A subscriber whose first period (29.00 USD, 1,000 plan credits) is paid (a Stripe
    invoice, through the webhooks)."""
    plan = PlanFactory(slug="pro", entitlements=["api_access"], credits_per_period=1000)
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_R")
    stripe_double.put("customer", example("customer", id="cus_R", email=customer.email))
    price_id = ensure_stripe_price(plan.monthly_price)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=SubscriptionStatus.INCOMPLETE,
        billing_source="stripe",
    )
    now = int(time.time())
    sub = stripe_subscription(
        stripe_double,
        sub_id="sub_R",
        customer="cus_R",
        price_id=price_id,
        start=now - 60,
        end=now + 30 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    capture = django_capture_on_commit_callbacks
    deliver(client, capture, sub, "customer.subscription.created")
    invoice = stripe_paid_invoice(
        stripe_double,
        inv_id="in_R1",
        sub_id="sub_R",
        customer="cus_R",
        amount=2900,
        start=now - 60,
        end=now + 30 * DAY,
        billing_reason="subscription_create",
        brand="mastercard",
        last4="4444",
    )
    deliver(client, capture, invoice, "invoice.paid")
    return Invoice.objects.get(stripe_invoice_id="in_R1")
