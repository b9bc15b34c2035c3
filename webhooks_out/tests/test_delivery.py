"""Webhooks out, delivered over real HTTP to a receiver on 127.0.0.1."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts import authority
from accounts.factories import AdminFactory, UserFactory
from billing.factories import OrderFactory, OrderItemFactory
from billing.models import Invoice
from billing.services.invoices import mark_invoice_paid
from billing.services.payments import mark_order_paid
from billing.services.refunds import create_invoice_refund, create_refund
from billing.services.subscriptions.lifecycle import cancel
from core.models import AuditLog
from core.system_config import get_config
from credits.factories import FeatureCostFactory
from credits.services import consume_credits, grant_credits
from credits.tasks import batch_consumption
from support.factories import TicketFactory
from support.models import TicketMessage
from tests.staff_authority_table import manual_subscription, open_invoice
from webhooks_out import services, signing
from webhooks_out.admin import EndpointForm
from webhooks_out.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from webhooks_out.tests.receiver import Receiver

pytestmark = pytest.mark.django_db


def receiver_verifies(secret: str, body: bytes, header: str, tolerance=300) -> dict:
    """What the README tells a receiver to do, written here from scratch (not our module)."""

    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp, given = int(fields["t"]), fields["v1"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, given), "signature does not match"
    assert abs(time.time() - timestamp) <= tolerance, "timestamp too old"
    return json.loads(body)


def pay_an_order(customer, total=4200):
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"bank-{order.pk}",
        amount=total,
        currency=order.currency,
    )
    return order


def test_a_paid_order_is_posted_signed_once(receiver, register, django_capture_on_commit_callbacks):
    endpoint, secret = register(receiver.url, ["order.paid"])
    assert secret.startswith("whsec_")
    customer = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        order = pay_an_order(customer)

    assert len(receiver.received) == 1
    request = receiver.received[0]
    event = receiver_verifies(secret, request.body, request.headers[signing.HEADER])
    assert event["type"] == "order.paid" and event["sequence"] == 1
    assert event["data"]["object"]["number"] == order.number
    assert event["data"]["object"]["total"] == 4200
    assert event["data"]["object"]["customer"]["email"] == customer.email
    assert request.headers["Billing-Event-Id"] == event["id"]

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.last_response_code == 200
    assert list(delivery.attempt_log.values_list("response_code", flat=True)) == [200]

    # Saving the paid order again reports nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        order.refresh_from_db()
        order.save()
    assert len(receiver.received) == 1 and WebhookEvent.objects.count() == 1


def test_a_tampered_body_or_another_secret_fails_verification(
    receiver, register, django_capture_on_commit_callbacks
):
    _, secret = register(receiver.url, ["order.paid"])
    with django_capture_on_commit_callbacks(execute=True):
        pay_an_order(UserFactory())
    request = receiver.received[0]
    header = request.headers[signing.HEADER]
    signing.verify(secret, request.body, header)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, request.body.replace(b"4200", b"1"), header)
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_other", request.body, header)
    with pytest.raises(signing.SignatureError):  # a replay ten minutes later
        signing.verify(secret, request.body, header, now=int(header.split(",")[0][2:]) + 600)


def test_receiver_down_then_back_every_event_arrives_in_order(
    register, django_capture_on_commit_callbacks
):
    receiver = Receiver().start()
    url = receiver.url
    receiver.stop()  # the business's system is down
    endpoint, secret = register(url, ["order.paid", "ticket.created"])

    customer = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = pay_an_order(customer)
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        second = pay_an_order(customer, total=990)

    head = WebhookDelivery.objects.get(sequence=1)
    assert head.status == DeliveryStatus.PENDING and head.attempts >= 1
    assert head.last_response_code is None and "ConnectionError" in head.last_error
    assert head.next_attempt_at > timezone.now()
    # The later ones wait behind the first: never sent out of order.
    assert not WebhookDelivery.objects.filter(sequence__gt=1, attempts__gt=0).exists()

    # A retry before the pause is over sends nothing.
    assert services.deliver_due() == 0

    back = Receiver()
    back.port = receiver.port
    back.start()
    try:
        with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=True):
            services.deliver_due()
            bodies = [
                receiver_verifies(secret, r.body, r.headers[signing.HEADER]) for r in back.received
            ]
    finally:
        back.stop()
    assert [body["sequence"] for body in bodies] == [1, 2, 3]
    assert [body["type"] for body in bodies] == ["order.paid", "ticket.created", "order.paid"]
    assert [bodies[0]["data"]["object"]["number"], bodies[2]["data"]["object"]["number"]] == [
        first.number,
        second.number,
    ]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SUCCEEDED
    }


def _three_pending_deliveries(register):
    """Three deliveries to an endpoint whose receiver was down when they were made (so they
    wait, due again in a few minutes); returns the endpoint and the receiver's port."""
    down = Receiver().start()
    port = down.port
    down.stop()
    endpoint, _secret = register(down.url, ["order.paid"])
    customer = UserFactory()
    for total in (100, 200, 300):
        pay_an_order(customer, total=total)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    return endpoint, port


@pytest.mark.django_db(transaction=True)
def test_one_sender_at_a_time_per_endpoint_and_a_dead_senders_lease_runs_out(register):
    """While one process is in an endpoint's POST, another finds the endpoint busy and sends
    nothing; the first sends everything once, in order, and lets go. A sender that died
    holding the endpoint (its lease never given back) keeps others out only until the
    lease runs out. The hold is a row's lease, not a lock of the database session, so it
    works behind a pooler in transaction mode."""
    endpoint, port = _three_pending_deliveries(register)
    receiver = Receiver()
    receiver.port = port
    receiver.hold_first = threading.Event()
    receiver.start()
    outcome: dict = {}

    def first_sender():
        try:
            outcome.update(services.deliver_endpoint(endpoint.pk))
        finally:
            connection.close()

    try:
        with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=True):
            sender = threading.Thread(target=first_sender)
            sender.start()
            assert receiver.holding.wait(10), "the first sender never reached the receiver"
            assert services.deliver_endpoint(endpoint.pk) == {"busy": True, "sent": 0, "failed": 0}
            receiver.hold_first.set()
            sender.join(30)
            assert outcome == {"busy": False, "sent": 3, "failed": 0}
            endpoint.refresh_from_db()
            assert endpoint.sending_until is None

            # A sender that died holding the endpoint: others wait for its lease to run out.
            WebhookDelivery.objects.update(status=DeliveryStatus.PENDING)
            held = timezone.now() + services.LEASE
            type(endpoint).objects.filter(pk=endpoint.pk).update(sending_until=held)
            assert services.deliver_endpoint(endpoint.pk)["busy"] is True
        with time_machine.travel(held + timedelta(seconds=1), tick=True):
            assert services.deliver_endpoint(endpoint.pk) == {
                "busy": False,
                "sent": 3,
                "failed": 0,
            }
    finally:
        receiver.hold_first.set()
        receiver.stop()
    sequences = [json.loads(r.body)["sequence"] for r in receiver.received]
    assert sequences == [1, 2, 3, 1, 2, 3]


def test_errors_are_retried_with_backoff_then_given_up_and_the_endpoint_disabled(
    receiver, register, django_capture_on_commit_callbacks
):
    endpoint, secret = register(receiver.url, ["order.paid"])
    receiver.answers = [500] * 100
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        pay_an_order(UserFactory())
    delivery = WebhookDelivery.objects.get()
    pauses = []
    moment = start
    while delivery.status == DeliveryStatus.PENDING:
        pauses.append(delivery.next_attempt_at - moment)
        moment = delivery.next_attempt_at + timedelta(seconds=1)
        with time_machine.travel(moment, tick=False):
            services.deliver_due()
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_response_code == 500
    assert pauses[1] < pauses[2] < pauses[3]  # growing pauses
    assert delivery.attempt_log.count() == len(receiver.received) == delivery.attempts
    assert delivery.first_attempt_at + services.GIVE_UP_AFTER <= moment
    endpoint.refresh_from_db()
    assert not endpoint.active and "failed for 3 days" in endpoint.disabled_reason

    # Staff replay it after enabling the endpoint: it arrives as a new sequence number.
    receiver.answers = []
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.enable(endpoint, actor=admin)
        copy = services.replay(delivery, actor=admin)
    copy.refresh_from_db()
    assert copy.status == DeliveryStatus.SUCCEEDED and copy.sequence == 2
    last = json.loads(receiver.received[-1].body)
    assert last["id"] == delivery.event.public_id and last["sequence"] == 2
    assert AuditLog.objects.filter(
        resource_type="webhooks_out.WebhookDelivery", resource_id=str(copy.pk)
    ).exists()


def test_refunds_subscriptions_and_tickets_are_reported(
    receiver, register, django_capture_on_commit_callbacks
):
    _, secret = register(
        receiver.url,
        ["payment.refunded", "subscription.canceled", "subscription.updated", "ticket.replied"],
    )
    customer, admin = UserFactory(), AdminFactory()
    order = pay_an_order(customer)
    subscription = manual_subscription(customer)
    ticket = TicketFactory(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        create_refund(order_id=order.pk, amount=1000, reason="REQUESTED_BY_CUSTOMER", actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(subscription=subscription, at_period_end=False, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        TicketMessage.objects.create(ticket=ticket, author=customer, body="Any news?")
        TicketMessage.objects.create(ticket=ticket, author=admin, body="Internal", internal=True)
        TicketMessage.objects.create(ticket=ticket, author=admin, body="Fixed it for you.")

    events = [
        receiver_verifies(secret, r.body, r.headers[signing.HEADER]) for r in receiver.received
    ]
    types = [event["type"] for event in events]
    assert types[0] == "payment.refunded" and "subscription.canceled" in types
    assert types[-1] == "ticket.replied" and types.count("ticket.replied") == 1
    refund = events[0]["data"]["object"]
    assert refund["amount"] == 1000 and refund["order"]["number"] == order.number
    canceled = next(e for e in events if e["type"] == "subscription.canceled")
    assert canceled["data"]["object"]["status"] == "CANCELED"
    assert events[-1]["data"]["object"]["body"] == "Fixed it for you."
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))


def test_low_credits_are_reported_once_per_crossing(
    receiver, register, settings, django_capture_on_commit_callbacks
):
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="Text chat", cost=5)
    _, secret = register(receiver.url, ["credits.low"])
    customer = UserFactory()
    threshold = get_config("low_balance_threshold")
    grant_credits(user=customer, amount=threshold + 5, source="PROMO", idempotency_key="g1")
    with django_capture_on_commit_callbacks(execute=True):
        consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=2, idempotency_key="c1")
    with django_capture_on_commit_callbacks(execute=True):
        consume_credits(user=customer, operation="AI_TEXT_CHAT", idempotency_key="c2")
    assert len(receiver.received) == 1
    event = receiver_verifies(
        secret, receiver.received[0].body, receiver.received[0].headers[signing.HEADER]
    )
    assert event["type"] == "credits.low"
    assert event["data"]["object"]["balance"] == threshold - 5
    assert event["data"]["object"]["customer"]["id"] == customer.pk


def test_only_listening_active_endpoints_get_an_event(
    receiver, register, django_capture_on_commit_callbacks
):
    register(receiver.url, ["ticket.created"])
    other = Receiver().start()
    try:
        disabled, _ = register(other.url, ["order.paid"])
        services.disable(disabled, actor=AdminFactory())
        with django_capture_on_commit_callbacks(execute=True):
            pay_an_order(UserFactory())
        assert receiver.received == [] and other.received == []
        assert not WebhookEvent.objects.exists()
    finally:
        other.stop()


def test_a_customer_cannot_manage_endpoints(receiver):
    with pytest.raises(authority.NotAuthorized):
        services.register(url=receiver.url, event_types=["order.paid"], actor=UserFactory())


def test_private_addresses_are_refused_when_not_allowed(
    receiver, register, settings, django_capture_on_commit_callbacks
):
    """In production an endpoint may not point at the product's own network: the form
    refuses it, and a name that later resolves to a private address is not POSTed to."""

    endpoint, _ = register(receiver.url, ["order.paid"])
    settings.WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES = False
    form = EndpointForm(
        data={"url": "https://localhost/hooks", "description": "", "event_types": ["order.paid"]}
    )
    assert not form.is_valid()
    assert "not a public address" in form.errors["url"][0]
    with django_capture_on_commit_callbacks(execute=True):
        pay_an_order(UserFactory())
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert "not a public address" in delivery.last_error
    assert delivery.attempt_log.get().response_code is None


def test_a_refund_of_a_subscription_invoice_is_reported(
    receiver, register, django_capture_on_commit_callbacks
):
    """Manual invoices are refunded at once (by bank transfer): payment.refunded names the
    invoice, not an order."""

    _, secret = register(receiver.url, ["payment.refunded"])
    admin, customer = AdminFactory(), UserFactory()
    invoice = open_invoice(customer, 7900)
    mark_invoice_paid(invoice_id=invoice.pk, actor=admin, reference="BANK-77")
    with django_capture_on_commit_callbacks(execute=True):
        create_invoice_refund(
            invoice_id=invoice.pk, amount=2000, reason="REQUESTED_BY_CUSTOMER", actor=admin
        )
    [request] = receiver.received
    event = receiver_verifies(secret, request.body, request.headers[signing.HEADER])
    body = event["data"]["object"]
    assert event["type"] == "payment.refunded" and body["amount"] == 2000
    assert body["order"] is None
    assert body["invoice"]["number"] == Invoice.objects.get(pk=invoice.pk).number
    assert body["customer"]["id"] == customer.pk


def test_consumption_is_reported_per_customer_in_batches(
    receiver, register, django_capture_on_commit_callbacks
):
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="Text chat", cost=5)
    FeatureCostFactory(operation="AI_IMAGE", name="Image", cost=20)
    _, secret = register(receiver.url, ["credits.consumed"])
    ana, bo = UserFactory(), UserFactory()
    for user in (ana, bo):
        grant_credits(user=user, amount=1000, source="PROMO", idempotency_key=f"g{user.pk}")
    consume_credits(user=ana, operation="AI_TEXT_CHAT", quantity=1)  # before the first batch
    assert batch_consumption.delay().get() == 0  # the first batch starts at the ledger's end

    consume_credits(user=ana, operation="AI_TEXT_CHAT", quantity=3)
    consume_credits(user=ana, operation="AI_IMAGE", quantity=1)
    consume_credits(user=bo, operation="AI_TEXT_CHAT", quantity=2)
    assert batch_consumption.delay().get() == 0  # not settled yet: a minute's grace
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        with django_capture_on_commit_callbacks(execute=True):
            assert batch_consumption.delay().get() == 2
        with django_capture_on_commit_callbacks(execute=True):
            assert batch_consumption.delay().get() == 0  # nothing new: reported once
        bodies = {
            event["data"]["object"]["customer"]["id"]: event["data"]["object"]
            for event in (
                receiver_verifies(secret, r.body, r.headers[signing.HEADER])
                for r in receiver.received
            )
        }
    assert set(bodies) == {ana.pk, bo.pk}
    assert bodies[ana.pk]["credits"] == 35
    assert bodies[ana.pk]["operations"] == {
        "AI_TEXT_CHAT": {"quantity": 3, "credits": 15},
        "AI_IMAGE": {"quantity": 1, "credits": 20},
    }
    assert bodies[bo.pk]["operations"] == {"AI_TEXT_CHAT": {"quantity": 2, "credits": 10}}
