"""The webhook inbox: signatures, deduplication, exactly-once processing, retries (events in
any order: test_webhook_order)."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from djstripe.models import APIKey
from psycopg import sql as psycopg_sql

from billing.factories import CustomerBillingProfileFactory
from billing.models import (
    OrderStatus,
    Payment,
    WebhookEvent,
)
from billing.stripe import inbox
from billing.stripe.signature import sign_header
from billing.tasks import retry_webhook_events
from billing.tests.conftest import WEBHOOK_SECRET, WEBHOOK_URL, signed_post
from billing.tests.stripe_objects import example, wrap_event
from billing.tests.webhook_helpers import session_completed, stripe_order
from core.models import AuditLog
from core.outbox.models import OutboxMessage


def _customer_event(customer_id="cus_hook", **changes):
    return wrap_event(example("customer", id=customer_id, **changes), "customer.updated")


# --- signatures ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", ["missing", "forged", "stale", "future", "altered", "wrong_secret", "malformed"]
)
def test_bad_signature_answers_400_and_writes_nothing(client, webhook_secret, case):
    event = _customer_event()
    body = json.dumps(event).encode()
    header = sign_header(secret=WEBHOOK_SECRET, body=body)
    if case == "missing":
        response = client.post(WEBHOOK_URL, data=body, content_type="application/json")
    else:
        if case == "forged":
            header = f"t={int(time.time())},v1={'0' * 64}"
        elif case == "stale":
            header = sign_header(secret=WEBHOOK_SECRET, body=body, timestamp=int(time.time()) - 301)
        elif case == "future":
            header = sign_header(secret=WEBHOOK_SECRET, body=body, timestamp=int(time.time()) + 301)
        elif case == "altered":
            body = body.replace(b"cus_hook", b"cus_evil")
        elif case == "wrong_secret":
            header = sign_header(secret="whsec_other", body=body)
        elif case == "malformed":
            header = "v1=abc"
        response = signed_post(client, event, body=body, header=header)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_any_v1_signature_may_match_during_secret_rotation(client, webhook_secret):
    event = _customer_event()
    body = json.dumps(event).encode()
    good = sign_header(secret=WEBHOOK_SECRET, body=body).split(",")[1]
    header = f"t={int(time.time())},v1={'f' * 64},{good}"

    assert signed_post(client, event, body=body, header=header).status_code == 200
    assert WebhookEvent.objects.filter(stripe_event_id=event["id"]).exists()


@pytest.mark.django_db
def test_webhook_refuses_everything_without_a_configured_secret(client, no_stripe):
    response = signed_post(client, _customer_event(), secret="")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_signed_non_event_body_is_refused(client, webhook_secret):
    response = signed_post(client, {}, body=b'{"hello": "world"}')
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_valid_event_is_recorded_and_processed(
    client, webhook_secret, stripe_double, django_capture_on_commit_callbacks
):
    profile = CustomerBillingProfileFactory(stripe_customer_id="cus_hook")
    event = _customer_event(email="new@example.com", name="New Name")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, event)

    assert response.status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert row.type == "customer.updated" and row.payload == event
    assert row.status == WebhookEvent.Status.PROCESSED and row.attempts == 1
    assert row.processed_at is not None and row.event_created is not None
    profile.refresh_from_db()
    assert profile.billing_email == "new@example.com" and profile.billing_name == "New Name"
    # dj-stripe's mirror is kept in step from the payload, and the secret key is not stored
    # on the way (dj-stripe's owner-account lookup would keep it in djstripe_apikey).
    assert profile.djstripe_customer.id == "cus_hook"
    assert not APIKey.objects.exists()


@pytest.mark.django_db
def test_duplicate_delivery_answers_200_and_changes_nothing(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    event = _customer_event()
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, event)
    before = WebhookEvent.objects.values().get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_post(client, event)

    assert response.status_code == 200
    assert callbacks == []
    assert WebhookEvent.objects.values().get() == before


@pytest.mark.django_db(transaction=True)
def test_same_event_delivered_five_times_concurrently_has_one_effect(webhook_secret):
    order = stripe_order()
    event = wrap_event(session_completed(order), "checkout.session.completed")
    barrier = threading.Barrier(5)
    statuses = []

    def deliver():
        try:
            barrier.wait()
            statuses.append(signed_post(Client(), event).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 5
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.PROCESSED and row.attempts == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_process_an_event_once():
    order = stripe_order()
    row = WebhookEvent.objects.create(
        stripe_event_id="evt_claim",
        type="checkout.session.completed",
        payload=wrap_event(session_completed(order), "checkout.session.completed"),
    )
    results = []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            results.append(inbox.process_event(event_id=row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["processed", "skipped", "skipped", "skipped"]
    assert Payment.objects.filter(order=order).count() == 1


# --- acknowledgement: one statement, publishing after the answer ------------------------------


@pytest.mark.django_db
def test_duplicate_delivery_is_acknowledged_and_writes_no_event_and_no_task(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    event = _customer_event()
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, event).status_code == 200
    events_before = list(WebhookEvent.objects.values())
    tasks_before = list(OutboxMessage.objects.values())

    response = signed_post(client, event)

    assert response.status_code == 200 and response.content == b"ok"
    assert list(WebhookEvent.objects.values()) == events_before
    assert list(OutboxMessage.objects.values()) == tasks_before
    assert len(tasks_before) == 1


_REFUSE_OUTBOX_INSERT = """
    CREATE FUNCTION test_refuse_outbox_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'outbox insert refused by the test'; END $$;
    CREATE TRIGGER test_refuse_outbox_insert BEFORE INSERT ON outbox_outboxmessage
        FOR EACH ROW EXECUTE FUNCTION test_refuse_outbox_insert();
"""
_ALLOW_OUTBOX_INSERT = """
    DROP TRIGGER IF EXISTS test_refuse_outbox_insert ON outbox_outboxmessage;
    DROP FUNCTION IF EXISTS test_refuse_outbox_insert();
"""


def _as_schema_owner(statements: str) -> None:
    """Run DDL as the session's login (the schema's owner), whatever role the tests act as."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        current, session = cursor.fetchone()
        cursor.execute("RESET ROLE")
        try:
            cursor.execute(statements)
        finally:
            if current != session:
                cursor.execute(
                    psycopg_sql.SQL("SET ROLE {}").format(psycopg_sql.Identifier(current))
                )


@pytest.mark.django_db(transaction=True)
def test_an_event_is_never_stored_without_its_processing_task(webhook_secret):
    # The outbox insert fails inside the database (a trigger): the event row must not stay
    # behind without the task that would process it. Stripe gets an error and redelivers.
    event = _customer_event()
    _as_schema_owner(_REFUSE_OUTBOX_INSERT)
    try:
        refused = signed_post(Client(raise_request_exception=False), event)
    finally:
        _as_schema_owner(_ALLOW_OUTBOX_INSERT)

    assert refused.status_code == 500
    assert not WebhookEvent.objects.exists()
    assert not OutboxMessage.objects.exists()

    redelivered = signed_post(Client(), event)

    assert redelivered.status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert row.status == WebhookEvent.Status.PROCESSED  # published, and run (eager tasks)
    assert list(OutboxMessage.objects.values_list("task", "args")) == [
        (inbox.PROCESS_TASK, [row.pk])
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_nan", "type": "customer.updated", "data": {"object": {"x": NaN}}}',
        b'{"id": "evt_nul", "type": "customer.updated", "data": {"object": {"x": "a\\u0000"}}}',
    ],
    ids=["nan", "nul"],
)
def test_a_signed_body_jsonb_cannot_store_is_refused_with_400(client, webhook_secret, body):
    response = signed_post(client, {}, body=body)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    event = _customer_event(description="C:\\u0000 is a folder")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, event)

    assert response.status_code == 200
    stored = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert stored.payload["data"]["object"]["description"] == "C:\\u0000 is a folder"


# --- failures, retries, replay ---------------------------------------------------------------


@pytest.mark.django_db
def test_failing_event_records_error_and_retries_with_backoff_until_fixed(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    order = stripe_order(total=1900)
    # Stripe says 1000 were paid for a 1900 order: refused, never completes the order.
    event = wrap_event(session_completed(order, amount_total=1000), "checkout.session.completed")
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, event).status_code == 200

    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED and row.attempts == 1
    assert "PaymentAmountMismatch" in row.last_error
    assert row.next_attempt_at > timezone.now()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and not Payment.objects.exists()

    # Not due yet: the periodic task leaves it alone.
    assert retry_webhook_events() == 0
    # Once due, it is retried; a fixed payload (as after staff correct data) then succeeds.
    WebhookEvent.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        payload=wrap_event(session_completed(order), "checkout.session.completed"),
    )
    assert retry_webhook_events() == 1
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED and row.attempts == 2
    assert row.last_error == ""


@pytest.mark.django_db
def test_attempts_are_bounded():
    order = stripe_order()
    row = WebhookEvent.objects.create(
        stripe_event_id="evt_bounded",
        type="checkout.session.completed",
        payload=wrap_event(session_completed(order, amount_total=1), "x"),
        status=WebhookEvent.Status.FAILED,
        attempts=inbox.MAX_ATTEMPTS - 1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )

    assert retry_webhook_events() == 1
    row.refresh_from_db()
    assert row.attempts == inbox.MAX_ATTEMPTS and row.status == WebhookEvent.Status.FAILED
    assert row.next_attempt_at is None
    assert retry_webhook_events() == 0


@pytest.mark.django_db
def test_stuck_processing_rows_are_picked_up_again():
    profile = CustomerBillingProfileFactory(stripe_customer_id="cus_stuck")
    row = WebhookEvent.objects.create(
        stripe_event_id="evt_stuck",
        type="customer.updated",
        payload=_customer_event("cus_stuck", email="stuck@example.com"),
        status=WebhookEvent.Status.PROCESSING,
        attempts=1,
        processing_started_at=timezone.now() - inbox.STUCK_AFTER - timedelta(minutes=1),
    )

    assert retry_webhook_events() == 1
    row.refresh_from_db()
    profile.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED and row.attempts == 2
    assert profile.billing_email == "stuck@example.com"


@pytest.mark.django_db
def test_staff_can_filter_failed_events_and_replay_them(
    admin_client_user, admin_user, django_capture_on_commit_callbacks
):
    order = stripe_order()
    failed = WebhookEvent.objects.create(
        stripe_event_id="evt_failed",
        type="checkout.session.completed",
        payload=wrap_event(session_completed(order), "checkout.session.completed"),
        status=WebhookEvent.Status.FAILED,
        attempts=inbox.MAX_ATTEMPTS,
        last_error="Boom",
    )
    WebhookEvent.objects.create(
        stripe_event_id="evt_ok",
        type="customer.updated",
        payload={},
        status=WebhookEvent.Status.PROCESSED,
    )

    listing = admin_client_user.get("/admin/billing/webhookevent/?status__exact=failed")
    assert listing.status_code == 200
    assert "evt_failed" in listing.content.decode()
    assert "evt_ok" not in listing.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_user.post(
            "/admin/billing/webhookevent/",
            {"action": "action_replay", "_selected_action": [failed.pk]},
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    order.refresh_from_db()
    assert failed.status == WebhookEvent.Status.PROCESSED
    assert order.status == OrderStatus.COMPLETED
    assert AuditLog.objects.filter(
        resource_id=str(failed.pk), context__operation="webhook_replay"
    ).exists()
