"""The webhook URL as `stripe listen --forward-to` is typed, and bodies it cannot read."""

import json

import pytest

from billing.models import WebhookEvent
from billing.stripe.signature import sign_header
from billing.tests.conftest import WEBHOOK_SECRET, signed_post
from billing.tests.stripe_objects import example, wrap_event


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/webhooks/stripe/", "/webhooks/stripe"])
def test_a_signed_event_is_recorded_with_or_without_the_trailing_slash(client, webhook_secret, url):
    event = wrap_event(example("customer", id="cus_hook"), "customer.updated")
    body = json.dumps(event).encode()

    response = client.post(
        url,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_header(secret=WEBHOOK_SECRET, body=body),
    )

    assert response.status_code == 200
    assert WebhookEvent.objects.filter(stripe_event_id=event["id"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"id": "evt_deep", "type": "customer.updated", "data": '
        + b'{"a":' * 1000
        + b"1"
        + b"}" * 1000
        + b"}",
    ],
    ids=["list", "object"],
)
def test_a_signed_body_nested_too_deeply_is_refused(client, webhook_secret, body):
    response = signed_post(client, {}, body=body)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
