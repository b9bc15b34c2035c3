"""Stripe configuration: one pinned API version on every call, events of another version
re-read before they are applied, the base URL from process start, and no secret at rest."""

import copy
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe
from django.conf import settings
from django.db import connection
from djstripe.models import APIKey
from stripe._api_version import _ApiVersion

from accounts.factories import UserFactory
from billing.models import CustomerBillingProfile, Subscription, SubscriptionStatus, WebhookEvent
from billing.stripe.inbox import record_event
from billing.stripe.mirror import SecretAtRest
from billing.stripe.sync import ensure_stripe_price
from billing.tests.conftest import SECRET_KEY, signed_post
from billing.tests.stripe_objects import example, wrap_event
from billing.tests.subscription_helpers import DAY, deliver, stripe_subscription
from catalog.factories import PlanFactory

ROOT = Path(__file__).resolve().parents[2]
OLD_VERSION = "2025-02-24.acacia"
S = SubscriptionStatus


@pytest.fixture
def linked(db, customer, stripe_double):

    plan = PlanFactory(slug="pro", entitlements=["api_access"])
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_V")
    price_id = ensure_stripe_price(plan.monthly_price)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=S.INCOMPLETE,
        billing_source="stripe",
    )
    return local, price_id


def _old_shape(sub: dict, *, start: int, end: int) -> dict:
    """The subscription as an endpoint on a pre-2025-03-31 version receives it: periods at the
    top level, none on the items."""
    old = copy.deepcopy(sub)
    old["current_period_start"], old["current_period_end"] = start, end
    for item in old["items"]["data"]:
        item.pop("current_period_start", None)
        item.pop("current_period_end", None)
    return old


def test_the_pinned_version_defaults_to_the_one_stripe_python_was_built_for():
    assert settings.STRIPE_API_VERSION == _ApiVersion.CURRENT
    assert stripe.api_version == settings.STRIPE_API_VERSION


@pytest.mark.django_db
def test_an_event_of_another_version_is_re_read_at_ours(
    linked, stripe_double, client, django_capture_on_commit_callbacks
):
    local, price_id = linked
    now = int(time.time())
    new_end = now + 30 * DAY
    current = stripe_subscription(
        stripe_double,
        sub_id="sub_V",
        customer="cus_V",
        price_id=price_id,
        start=now,
        end=new_end,
        metadata={"subscription_id": str(local.pk)},
    )
    # The endpoint speaks an older version: the payload says the period ends in 2 days.
    payload = _old_shape(current, start=now - 28 * DAY, end=now + 2 * DAY)

    event = wrap_event(payload, "customer.subscription.updated", api_version=OLD_VERSION)
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, event).status_code == 200

    local.refresh_from_db()
    assert local.status == S.ACTIVE
    assert local.current_period_end == datetime.fromtimestamp(new_end, tz=UTC)
    reads = stripe_double.calls("GET", "/v1/subscriptions/sub_V")
    assert reads and reads[-1].headers.get("Stripe-Version") == settings.STRIPE_API_VERSION


@pytest.mark.django_db
def test_a_deleted_object_of_another_version_is_read_in_its_old_shape(
    linked, stripe_double, client, django_capture_on_commit_callbacks
):
    local, price_id = linked
    now = int(time.time())
    sub = stripe_subscription(
        stripe_double,
        sub_id="sub_D",
        customer="cus_V",
        price_id=price_id,
        start=now - DAY,
        end=now + 29 * DAY,
        metadata={"subscription_id": str(local.pk)},
        store=False,
    )
    ended = {
        **_old_shape(sub, start=now - DAY, end=now + 5 * DAY),
        "status": "canceled",
        "canceled_at": now,
        "ended_at": now,
    }

    event = wrap_event(ended, "customer.subscription.deleted", api_version=OLD_VERSION)
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, event).status_code == 200

    local.refresh_from_db()
    assert local.status == S.CANCELED
    assert local.current_period_end == datetime.fromtimestamp(now + 5 * DAY, tz=UTC)
    assert not stripe_double.calls("GET", "/v1/subscriptions/sub_D")


@pytest.mark.django_db
def test_the_event_admin_page_shows_a_version_mismatch(admin_client, stripe_double):

    record_event(
        body=json.dumps(
            wrap_event(example("customer", id="cus_O"), "customer.updated", api_version=OLD_VERSION)
        ).encode(),
        publish=False,
    )
    record_event(
        body=json.dumps(wrap_event(example("customer", id="cus_N"), "customer.updated")).encode(),
        publish=False,
    )
    old, new = (WebhookEvent.objects.get(object_id=i) for i in ("cus_O", "cus_N"))

    page = admin_client.get(f"/admin/billing/webhookevent/{old.pk}/change/").content.decode()
    assert f"Differs: the event was written in {OLD_VERSION}" in page
    page = admin_client.get(f"/admin/billing/webhookevent/{new.pk}/change/").content.decode()
    assert f"Same as ours ({settings.STRIPE_API_VERSION})" in page


@pytest.mark.django_db
def test_a_customer_with_a_default_card_stores_no_secret_and_asks_for_no_account(
    stripe_double, client, django_capture_on_commit_callbacks
):
    CustomerBillingProfile.objects.create(user=UserFactory(), stripe_customer_id="cus_card")
    stripe_double.put(
        "payment_method", example("payment_method", id="pm_card", customer="cus_card")
    )
    customer = example(
        "customer",
        id="cus_card",
        invoice_settings={
            "default_payment_method": "pm_card",
            "custom_fields": None,
            "footer": None,
            "rendering_options": None,
        },
    )
    deliver(client, django_capture_on_commit_callbacks, customer, "customer.updated")

    assert WebhookEvent.objects.get(object_id="cus_card").status == "processed"
    assert not APIKey.objects.exists()
    assert not stripe_double.calls("GET", "/v1/account")
    # dj-stripe's own call for the card carried our version.
    assert all(
        r.headers.get("Stripe-Version") == settings.STRIPE_API_VERSION
        for r in stripe_double.requests
    )


@pytest.mark.django_db
def test_no_path_can_store_a_secret_key():
    with pytest.raises(SecretAtRest):
        APIKey.objects.create(secret=SECRET_KEY, type="secret", livemode=False)
    with pytest.raises(SecretAtRest):
        APIKey.objects.get_or_create_by_api_key("rk_test_51RestrictedKeyForTheTest0000")
    assert not APIKey.objects.exists()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]
    host = db.get("HOST") or ""
    if host.startswith("/"):
        return f"postgresql://{db['USER']}:@/{name}?host={host}"
    return (
        f"postgresql://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:"
        f"{db.get('PORT') or 5432}/{name}"
    )


@pytest.mark.django_db
def test_a_fresh_process_sends_dj_stripes_calls_to_the_configured_base(stripe_double):
    stripe_double.put("customer", example("customer", id="cus_fresh"))
    code = (
        "from djstripe.models import Customer; "
        "print(Customer(id='cus_fresh', livemode=False).api_retrieve()['id'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_API_BASE": stripe_double.url,
        "DEBUG": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("cus_fresh")
    (call,) = stripe_double.calls("GET", "/v1/customers/cus_fresh")
    assert call.headers.get("Stripe-Version") == settings.STRIPE_API_VERSION
