"""Payments of subscription invoices, and their refunds and disputes, in our books."""

import re
import threading

import pytest
from django.db import connection
from django.utils import timezone
from djstripe import models as mirror
from djstripe.models import Invoice as MirroredInvoice

from accounts.factories import FinanceFactory
from analytics.metrics.revenue import compute_revenue
from billing.factories import SubscriptionFactory
from billing.models import (
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
    Refund,
    RefundReason,
    StripeDrift,
    SubscriptionStatus,
)
from billing.services.numbers import next_number
from billing.services.refunds import create_invoice_refund
from billing.stripe import reconciliation
from billing.tests.stripe_objects import example
from billing.tests.subscription_helpers import (
    deliver,
    stripe_refund,
)
from core.api import DomainError
from core.models import SystemConfig
from core.system_config import forget
from credits.factories import FeatureCostFactory
from credits.selectors import balance_of
from credits.services import consume_credits
from support.factories import TicketFactory
from support.models import TicketMessage, TicketStatus

S = SubscriptionStatus


def _open_ticket(user):

    return TicketFactory(customer=user, status=TicketStatus.OPEN)


@pytest.mark.django_db
def test_invoice_payment_is_recorded_with_its_intent_charge_and_card(paid, customer):
    payment = Payment.objects.get(invoice=paid)
    assert (payment.stripe_payment_intent_id, payment.stripe_charge_id) == ("pi_in_R1", "ch_in_R1")
    assert (payment.method_type, payment.method_brand, payment.method_last4) == (
        "card",
        "mastercard",
        "4444",
    )
    assert payment.amount == 2900 and balance_of(user=customer) == 1000


@pytest.mark.django_db
def test_a_dashboard_refund_of_a_subscription_charge_reaches_the_books(
    paid, customer, stripe_double, client, django_capture_on_commit_callbacks
):
    ticket = _open_ticket(customer)
    refund, charge = stripe_refund(stripe_double, refund_id="re_R1", inv_id="in_R1", amount=2900)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")
    deliver(client, django_capture_on_commit_callbacks, refund, "refund.created")

    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (InvoiceStatus.REFUNDED, 2900)
    row = Refund.objects.get()
    assert (row.invoice, row.order, row.amount, row.status, row.stripe_refund_id) == (
        paid,
        None,
        2900,
        Refund.Status.SUCCEEDED,
        "re_R1",
    )
    note = CreditNote.objects.get()
    assert note.number.startswith("CN-") and note.amount == 2900 and note.refund == row
    assert (note.credits_clawed_back, note.credits_unrecovered) == (1000, 0)
    assert balance_of(user=customer) == 0
    sub = paid.subscription
    assert sub.events.filter(type="REFUNDED").count() == 1
    assert (
        TicketMessage.objects.filter(
            ticket=ticket, internal=True, body__contains=note.number
        ).count()
        == 1
    )
    (net,) = [r for r in compute_revenue(timezone.now().date()) if r.metric == "net_revenue"]
    assert net.value == 0


@pytest.mark.django_db
def test_a_dispute_of_a_subscription_charge_is_recorded_against_the_invoice(
    paid, customer, stripe_double, client, django_capture_on_commit_callbacks
):
    dispute = example(
        "dispute",
        id="dp_R1",
        amount=2900,
        charge="ch_in_R1",
        payment_intent="pi_in_R1",
        reason="fraudulent",
        status="needs_response",
        currency="usd",
    )
    deliver(client, django_capture_on_commit_callbacks, dispute, "charge.dispute.created")
    deliver(client, django_capture_on_commit_callbacks, dispute, "charge.dispute.created")

    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (InvoiceStatus.REFUNDED, 2900)
    row = Refund.objects.get()
    assert (row.reason, row.stripe_dispute_id, row.status) == (
        RefundReason.DISPUTED,
        "dp_R1",
        Refund.Status.SUCCEEDED,
    )
    assert CreditNote.objects.get().refund == row
    assert balance_of(user=customer) == 0
    assert paid.subscription.events.filter(type="DISPUTED").count() == 1

    # Won: Stripe gives the money back, the invoice is paid again.
    deliver(
        client,
        django_capture_on_commit_callbacks,
        {**dispute, "status": "won"},
        "charge.dispute.closed",
    )
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (InvoiceStatus.PAID, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "clawed", "unrecovered"),
    [("none", 0, 0), ("proportional", 300, 200), ("all", 300, 700)],
)
def test_credits_are_clawed_back_by_policy_never_below_zero(
    policy,
    clawed,
    unrecovered,
    paid,
    customer,
    stripe_double,
    client,
    staff_console,
    django_capture_on_commit_callbacks,
    request,
):

    SystemConfig.objects.update_or_create(
        key="billing.refund_credit_clawback", defaults={"value": policy}
    )
    forget("billing.refund_credit_clawback")
    request.addfinalizer(lambda: forget("billing.refund_credit_clawback"))
    FeatureCostFactory(operation="USAGE", cost=700)
    consume_credits(user=customer, operation="USAGE")
    refund, charge = stripe_refund(stripe_double, refund_id="re_half", inv_id="in_R1", amount=1450)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")

    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (InvoiceStatus.PARTIALLY_REFUNDED, 1450)
    note = CreditNote.objects.get()
    assert (note.credits_clawed_back, note.credits_unrecovered, note.clawback_policy) == (
        clawed,
        unrecovered,
        policy,
    )
    assert balance_of(user=customer) == 300 - clawed >= 0
    # Staff find the credit notes whose credits could not all be taken back.
    owed = staff_console.get("/admin/billing/creditnote/?credits_owed=yes").content.decode()
    assert (note.number in owed) == (unrecovered > 0)


@pytest.mark.django_db
def test_staff_refund_a_subscription_invoice_from_the_admin_through_stripe(
    paid,
    customer,
    admin_user,
    staff_console,
    stripe_double,
    client,
    django_capture_on_commit_callbacks,
):

    url = f"/admin/billing/invoice/{paid.pk}/refund/"
    page = staff_console.get(url)
    assert page.status_code == 200 and "$29.00" in page.content.decode()
    form = re.search(r'<form method="post"( action="([^"]*)")?>', page.content.decode())
    action = form.group(2) or url
    # Too much: refused next to the field, nothing written.
    too_much = staff_console.post(action, {"amount": "30.00", "reason": "DUPLICATE"})
    assert too_much.status_code == 400 and "larger than what is left" in too_much.content.decode()
    assert not Refund.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_console.post(
            action, {"amount": "10.00", "reason": "DUPLICATE", "notes": "Charged twice"}
        )
    assert response.status_code == 302

    (sent,) = stripe_double.calls("POST", "/v1/refunds")
    assert sent.params["payment_intent"] == "pi_in_R1" and sent.params["amount"] == "1000"
    row = Refund.objects.get()
    assert (row.invoice, row.amount, row.status, row.requested_by) == (
        paid,
        1000,
        Refund.Status.SUCCEEDED,
        admin_user,
    )
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (InvoiceStatus.PARTIALLY_REFUNDED, 1000)
    assert CreditNote.objects.get().credits_clawed_back == 1000 * 1000 // 2900

    # Stripe's own event about that refund changes nothing more.
    deliver(
        client,
        django_capture_on_commit_callbacks,
        stripe_double.get("refund", row.stripe_refund_id),
        "refund.created",
    )
    assert Refund.objects.count() == 1 and CreditNote.objects.count() == 1


@pytest.mark.django_db
def test_the_credit_note_is_printable_by_its_customer_only(
    paid, customer, other_customer, stripe_double, client, django_capture_on_commit_callbacks
):
    refund, charge = stripe_refund(stripe_double, refund_id="re_P", inv_id="in_R1", amount=900)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")
    note = CreditNote.objects.get()

    client.force_login(customer)
    invoice_page = client.get(f"/billing/invoices/{paid.number}/").content.decode()
    assert f'href="/billing/credit-notes/{note.number}/"' in invoice_page
    page = client.get(f"/billing/credit-notes/{note.number}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert note.number in text and paid.number in text and "$9.00" in text
    assert 'id="print-invoice"' in text
    client.force_login(other_customer)
    assert client.get(f"/billing/credit-notes/{note.number}/").status_code == 404


@pytest.mark.django_db
def test_the_objects_the_handlers_see_are_mirrored_with_their_raw_data(
    paid, stripe_double, client, django_capture_on_commit_callbacks
):

    refund, charge = stripe_refund(stripe_double, refund_id="re_M", inv_id="in_R1", amount=500)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")
    dispute = example(
        "dispute",
        id="dp_M",
        amount=500,
        charge="ch_in_R1",
        payment_intent="pi_in_R1",
        reason="general",
        status="needs_response",
    )
    deliver(client, django_capture_on_commit_callbacks, dispute, "charge.dispute.created")

    for model, object_id in (
        (mirror.Subscription, "sub_R"),
        (mirror.Invoice, "in_R1"),
        (mirror.PaymentIntent, "pi_in_R1"),
        (mirror.Charge, "ch_in_R1"),
        (mirror.Refund, "re_M"),
        (mirror.Dispute, "dp_M"),
        (mirror.Price, paid.subscription.price.stripe_price_id),
    ):
        row = model.objects.get(id=object_id)
        assert row.stripe_data["id"] == object_id
    # The raw object as Stripe sent it: the invoice's subscription where the current API
    # puts it, which dj-stripe 2.11 does not read.
    raw = mirror.Invoice.objects.get(id="in_R1").stripe_data
    assert raw["parent"]["subscription_details"]["subscription"] == "sub_R"
    assert (
        mirror.Subscription.objects.get(id="sub_R").stripe_data["items"]["data"][0][
            "current_period_end"
        ]
        > 0
    )


@pytest.mark.django_db
def test_finance_reads_the_stripe_mirror_and_nothing_else_of_dj_stripe(paid, client, stripe_double):

    client.force_login(FinanceFactory())
    index = client.get("/admin/").content.decode()
    assert "Stripe mirror" in index and 'href="/admin/djstripe/invoice/"' in index
    listing = client.get("/admin/djstripe/invoice/?q=in_R1").content.decode()
    assert "in_R1" in listing

    url = f"/admin/djstripe/invoice/{MirroredInvoice.objects.get(id='in_R1').pk}/change/"
    assert url in listing
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "subscription_details" in text and 'name="_save"' not in text
    assert client.post(url, {}).status_code == 403
    assert client.get("/admin/djstripe/apikey/").status_code == 404
    assert client.get("/admin/djstripe/webhookendpoint/").status_code == 404


@pytest.mark.django_db
def test_nightly_reconciliation_lists_what_the_mirror_says_differently(
    paid, stripe_double, client, staff_console, django_capture_on_commit_callbacks
):

    refund, charge = stripe_refund(stripe_double, refund_id="re_D1", inv_id="in_R1", amount=900)
    deliver(client, django_capture_on_commit_callbacks, charge, "charge.refunded")
    report = reconciliation.check_invoice_drift()
    assert report.drift == 0 and not StripeDrift.objects.exists()

    # A second refund made at Stripe whose own events never reached us: only the charge's
    # update did, so the mirror knows more than our books.
    deliver(
        client,
        django_capture_on_commit_callbacks,
        {**charge, "amount_refunded": 1500},
        "charge.updated",
    )
    report = reconciliation.check_invoice_drift()
    drift = StripeDrift.objects.get(resolved_at__isnull=True)
    assert (drift.object_id, drift.field, drift.local_value, drift.stripe_value) == (
        "ch_in_R1",
        "refunded_amount",
        "900",
        "1500",
    )
    assert drift.subscription == paid.subscription and report.drift == 1
    listing = staff_console.get("/admin/billing/stripedrift/").content.decode()
    assert "ch_in_R1" in listing and "refunded_amount" in listing

    # The missing refund arrives: the drift is resolved on the next run.
    second = example(
        "refund",
        id="re_D2",
        amount=600,
        currency="usd",
        charge="ch_in_R1",
        payment_intent="pi_in_R1",
        status="succeeded",
        metadata={},
    )
    deliver(client, django_capture_on_commit_callbacks, second, "refund.created")
    reconciliation.check_invoice_drift()
    drift.refresh_from_db()
    assert drift.resolved_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_invoice_refunds_cannot_exceed_what_was_paid(customer, admin_user):

    subscription = SubscriptionFactory(user=customer, billing_source="manual")
    invoice = Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        subscription=subscription,
        status=InvoiceStatus.PAID,
        billing_source="manual",
        currency="usd",
        subtotal=2900,
        total=2900,
        amount_paid=2900,
        amount_due=0,
        billing_reason="subscription_cycle",
    )
    Payment.objects.create(
        user=customer,
        invoice=invoice,
        provider="manual",
        provider_id=f"bank-{invoice.pk}",
        amount=2900,
        currency="usd",
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def refund():
        try:
            barrier.wait()
            create_invoice_refund(
                invoice_id=invoice.pk,
                amount=2000,
                reason=RefundReason.REQUESTED_BY_CUSTOMER,
                actor=admin_user,
            )
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok", "refund_exceeds_remaining"]
    invoice.refresh_from_db()
    assert (invoice.refunded_amount, invoice.status) == (2000, InvoiceStatus.PARTIALLY_REFUNDED)
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert CreditNote.objects.get().amount == 2000
