"""The "credit note issued" e-mail: queued through the outbox with the credit note (a staff
refund, a refund made in Stripe's dashboard, a dispute, a bank-transfer refund), branded in
both parts, amounts in the currency's own format, a link to the credit note, and sent once
per credit note however many times the task runs."""

import re

import pytest
from django.core import mail

from accounts.factories import FinanceFactory
from billing.models import CreditNote, Invoice, Payment, Refund
from billing.services.refunds import create_invoice_refund
from billing.tasks import send_credit_note_notice
from billing.tests.stripe_objects import example
from billing.tests.subscription_helpers import deliver, stripe_refund
from core.api import DomainError
from core.models import SystemConfig
from core.outbox.models import OutboxMessage
from core.system_config import forget
from tests.staff_authority_table import paid_invoice

pytestmark = pytest.mark.django_db

TASK = "billing.tasks.send_credit_note_notice"


@pytest.fixture
def branded(db):
    values = {
        "business_name": "Northwind Tools Ltd",
        "business_address": "9 Quay, Leeds",
        "business_tax_id": "GB123456789",
        "business_logo_url": "/static/brand/logo.png",
    }
    for key, value in values.items():
        SystemConfig.objects.update_or_create(key=key, defaults={"value": value})
        forget(key)
    yield values
    for key in values:
        forget(key)


def _notices(customer):
    return [m for m in mail.outbox if m.to == [customer.email] and "Credit note" in m.subject]


def _assert_branded(message, branded, note):
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    for part in (message.body, html):
        assert note.number in part and note.invoice.number in part
        assert branded["business_name"] in part and branded["business_address"] in part
        assert f"Tax number: {branded['business_tax_id']}" in part
        assert f"/billing/credit-notes/{note.number}/" in part
    assert "/static/brand/logo.png" in html


def test_a_staff_refund_queues_one_branded_credit_note_email_sent_once(
    paid,
    customer,
    branded,
    staff_console,
    stripe_double,
    client,
    django_capture_on_commit_callbacks,
):
    url = f"/admin/billing/invoice/{paid.pk}/refund/"
    page = staff_console.get(url).content.decode()
    form = re.search(r'<form method="post"( action="([^"]*)")?>', page)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_console.post(
            form.group(2) or url, {"amount": "10.00", "reason": "DUPLICATE", "notes": "Twice"}
        )
    assert response.status_code == 302
    note = CreditNote.objects.get()
    [row] = OutboxMessage.objects.filter(task=TASK)
    assert row.args == [note.pk] and row.completed_at is not None

    [message] = _notices(customer)
    assert message.subject == f"Credit note {note.number} for invoice {paid.number}"
    _assert_branded(message, branded, note)
    for part in (message.body, message.alternatives[0][0]):
        assert "$10.00" in part and "$29.00" in part
    note.refresh_from_db()
    assert note.notice_sent_at is not None

    # The message delivered again, or the task called again: nothing more is sent.
    again = send_credit_note_notice.apply(args=[note.pk], task_id=row.task_id)
    assert again.result is None
    assert send_credit_note_notice.apply(args=[note.pk]).result is False
    # Stripe's own event about that refund issues no second note and no second e-mail.
    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            client,
            django_capture_on_commit_callbacks,
            stripe_double.get("refund", Refund.objects.get().stripe_refund_id),
            "refund.created",
        )
    assert len(_notices(customer)) == 1
    assert OutboxMessage.objects.filter(task=TASK).count() == 1


def test_a_refund_and_a_dispute_from_stripe_each_e_mail_their_credit_note(
    paid, customer, branded, stripe_double, client, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    refund, charge = stripe_refund(stripe_double, refund_id="re_E1", inv_id="in_R1", amount=900)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")
    deliver(client, django_capture_on_commit_callbacks, refund, "refund.created")
    dispute = example(
        "dispute",
        id="dp_E1",
        amount=2000,
        charge="ch_in_R1",
        payment_intent="pi_in_R1",
        reason="fraudulent",
        status="needs_response",
        currency="usd",
    )
    deliver(client, django_capture_on_commit_callbacks, dispute, "charge.dispute.created")
    deliver(client, django_capture_on_commit_callbacks, dispute, "charge.dispute.created")

    refunded, disputed = CreditNote.objects.order_by("id")
    assert OutboxMessage.objects.filter(task=TASK).count() == 2
    sent = {m.subject.split()[2]: m for m in _notices(customer)}
    assert set(sent) == {refunded.number, disputed.number}
    assert "$9.00" in sent[refunded.number].body
    assert "$20.00" in sent[disputed.number].body
    assert "after your bank's dispute of the payment" in sent[disputed.number].body
    _assert_branded(sent[disputed.number], branded, disputed)


def test_amounts_follow_the_currencys_exponent(
    customer, branded, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(customer, 12345)
    Invoice.objects.filter(pk=invoice.pk).update(currency="kwd")
    Payment.objects.filter(invoice=invoice).update(currency="kwd")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        create_invoice_refund(
            invoice_id=invoice.pk,
            amount=2345,
            reason="REQUESTED_BY_CUSTOMER",
            actor=FinanceFactory(),
        )
    note = CreditNote.objects.get()
    [message] = _notices(customer)
    for part in (message.body, message.alternatives[0][0]):
        assert "KWD2.345" in part and "KWD12.345" in part
    _assert_branded(message, branded, note)


def test_no_email_for_a_refund_that_issues_no_credit_note(
    customer, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(customer, 5000)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        create_invoice_refund(
            invoice_id=invoice.pk, amount=9000, reason="DUPLICATE", actor=FinanceFactory()
        )
    assert not CreditNote.objects.exists()
    assert not OutboxMessage.objects.filter(task=TASK).exists()
