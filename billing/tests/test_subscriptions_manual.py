"""Manual (bank transfer) and free subscriptions: no Stripe at all; clocks frozen."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import DatabaseError, transaction

from accounts import data_export
from accounts.factories import UserFactory
from billing import errors
from billing.models import (
    Discount,
    Invoice,
    InvoiceStatus,
    Payment,
    Subscription,
    SubscriptionStatus,
)
from billing.selectors import entitlements_for
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle as service
from billing.services.subscriptions import renewal as renewal_service
from catalog.factories import PlanFactory
from core.models import AuditLog
from credits.models import CreditGrant

S = SubscriptionStatus
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def manual_plan(db):

    plan = PlanFactory(
        slug="office",
        name="Office",
        billing_source="manual",
        credits_per_period=300,
        entitlements=["invoices"],
    )
    plan.product.tax_rate = "0.2000"
    plan.product.save(update_fields=["tax_rate"])
    return plan


@pytest.fixture
def free_plan(db):

    plan = PlanFactory(slug="free", name="Free", credits_per_period=20, entitlements=["basic"])
    plan.monthly_price.unit_amount = 0
    plan.monthly_price.save(update_fields=["unit_amount"])
    return plan


def _plan_grants(user):
    return list(CreditGrant.objects.filter(user=user, source="PLAN").order_by("id"))


def _subscribe_and_pay_first_invoice(customer_api, customer, admin_user, capture):
    """At START: subscribed (active, first invoice e-mailed), then the bank transfer is
    recorded (twice: the second call changes nothing). Returns (subscription, invoice)."""
    with time_machine.travel(START, tick=False):
        with capture(execute=True):
            response = customer_api.post(
                "/api/v1/subscriptions/", {"plan": "office", "interval": "month"}, format="json"
            )
        assert response.status_code == 201, response.json()
        body = response.json()
        sub = Subscription.objects.get(pk=body["subscription"]["id"])
        assert (sub.status, sub.billing_source) == (S.ACTIVE, "manual")
        assert sub.current_period_end == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
        first = Invoice.objects.get(number=body["invoice"]["number"])
        # 10.00 + 20 % tax, due in 14 days (SystemConfig billing.invoice_due_days).
        assert (first.subtotal, first.tax, first.total, first.amount_due) == (1000, 200, 1200, 1200)
        assert (first.status, first.due_date) == (
            InvoiceStatus.OPEN,
            START.date() + timedelta(days=14),
        )
        assert [m.subject for m in mail.outbox] == [f"Invoice {first.number}"]
        assert entitlements_for(user=customer) == {"invoices"}
        assert _plan_grants(customer) == []  # credits come with payment

        invoice_service.mark_invoice_paid(invoice_id=first.pk, actor=admin_user, reference="BANK-1")
        invoice_service.mark_invoice_paid(invoice_id=first.pk, actor=admin_user)
        first.refresh_from_db()
        assert first.status == InvoiceStatus.PAID and first.amount_due == 0
        assert Payment.objects.get(invoice=first).provider_id == "BANK-1"
        [grant] = _plan_grants(customer)
        assert (grant.amount, grant.expires_at) == (300, sub.current_period_end)
    return sub, first


def _period_renews(sub, first, capture):
    """The period ends: the beat task renews with a new invoice. Returns that invoice."""
    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 4, 1, 13, 0, tzinfo=UTC), tick=False):
        with capture(execute=True):
            counts = renewal_service.renew_manual_subscriptions()
            again = renewal_service.renew_manual_subscriptions()
        assert counts["renewed"] == 1 and again["renewed"] == 0
        sub.refresh_from_db()
        assert (sub.current_period_start, sub.current_period_end) == (
            datetime(2026, 4, 1, 12, 0, tzinfo=UTC),
            datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
        )
        second = sub.invoices.exclude(pk=first.pk).get()
        assert (second.status, second.total, second.billing_reason) == (
            InvoiceStatus.OPEN,
            1200,
            "subscription_cycle",
        )
        assert len(mail.outbox) == 1
    return second


def _reminded_then_overdue_then_paid(sub, second, customer, admin_user, capture):
    """A reminder a few days before the due date, once; overdue: past due, one e-mail,
    still entitled during the grace period; paid: active again with the period's credits."""
    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 4, 13, 9, 0, tzinfo=UTC), tick=False):
        with capture(execute=True):
            assert renewal_service.renew_manual_subscriptions()["reminded"] == 1
            assert renewal_service.renew_manual_subscriptions()["reminded"] == 0
        assert "Reminder" in mail.outbox[0].subject

    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 4, 16, 9, 0, tzinfo=UTC), tick=False):
        with capture(execute=True):
            assert renewal_service.renew_manual_subscriptions()["past_due"] == 1
            assert renewal_service.renew_manual_subscriptions()["past_due"] == 0
        sub.refresh_from_db()
        assert sub.status == S.PAST_DUE
        assert len(mail.outbox) == 1
        assert entitlements_for(user=customer) == {"invoices"}

        invoice_service.mark_invoice_paid(invoice_id=second.pk, actor=admin_user)
        sub.refresh_from_db()
        assert (sub.status, sub.past_due_since) == (S.ACTIVE, None)
        assert [g.amount for g in _plan_grants(customer)] == [300, 300]


@pytest.mark.django_db
def test_manual_subscription_renews_goes_past_due_and_recovers_with_frozen_clock(
    no_stripe, customer_api, customer, manual_plan, admin_user, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sub, first = _subscribe_and_pay_first_invoice(customer_api, customer, admin_user, capture)
    second = _period_renews(sub, first, capture)
    _reminded_then_overdue_then_paid(sub, second, customer, admin_user, capture)
    types = list(sub.events.order_by("id").values_list("type", flat=True))
    assert types.count("INVOICE_CREATED") == 2 and "RENEWED" in types
    assert "PAYMENT_FAILED" in types


@pytest.mark.django_db
def test_manual_subscription_long_overdue_becomes_unpaid_and_loses_the_plan(
    no_stripe, customer, manual_plan
):
    with time_machine.travel(START, tick=False):
        result = service.subscribe(user=customer, plan="office", interval="month")
    with time_machine.travel(START + timedelta(days=16), tick=False):
        renewal_service.renew_manual_subscriptions()
    result.subscription.refresh_from_db()
    assert result.subscription.status == S.PAST_DUE
    with time_machine.travel(START + timedelta(days=47), tick=False):
        counts = renewal_service.renew_manual_subscriptions()
    result.subscription.refresh_from_db()
    assert counts["unpaid"] == 1 and result.subscription.status == S.UNPAID
    assert entitlements_for(user=customer) == set()


@pytest.mark.django_db
def test_manual_cancel_at_period_end_ends_at_renewal(
    no_stripe, customer, customer_api, manual_plan
):
    with time_machine.travel(START, tick=False):
        sub = service.subscribe(user=customer, plan="office", interval="month").subscription
        response = customer_api.post(
            f"/api/v1/subscriptions/{sub.pk}/cancel/", {"at_period_end": True}, format="json"
        )
        assert response.status_code == 200 and response.json()["cancel_at_period_end"]
    with time_machine.travel(START + timedelta(days=31), tick=False):
        counts = renewal_service.renew_manual_subscriptions()
    sub.refresh_from_db()
    assert counts == {"renewed": 0, "ended": 1, "reminded": 0, "past_due": 0, "unpaid": 0}
    assert sub.status == S.CANCELED
    assert sub.invoices.count() == 1


@pytest.mark.django_db
def test_manual_trial_grants_trial_credits_then_first_invoice_at_trial_end(
    no_stripe, customer, manual_plan
):
    manual_plan.trial_credits = 40
    manual_plan.save(update_fields=["trial_credits"])
    manual_plan.product.trial_days = 7
    manual_plan.product.save(update_fields=["trial_days"])
    with time_machine.travel(START, tick=False):
        sub = service.subscribe(user=customer, plan="office", interval="month").subscription
    assert (sub.status, sub.trial_end) == (S.TRIALING, START + timedelta(days=7))
    assert sub.invoices.count() == 0
    assert CreditGrant.objects.get(user=customer, source="TRIAL").amount == 40
    with time_machine.travel(START + timedelta(days=7, hours=1), tick=False):
        renewal_service.renew_manual_subscriptions()
    sub.refresh_from_db()
    assert sub.status == S.ACTIVE
    invoice = sub.invoices.get()
    assert (invoice.billing_reason, invoice.total) == ("subscription_create", 1200)


@pytest.mark.django_db
def test_free_plan_activates_at_once_with_its_credits(no_stripe, customer_api, customer, free_plan):
    response = customer_api.post(
        "/api/v1/subscriptions/", {"plan": "free", "interval": "month"}, format="json"
    )
    assert response.status_code == 201, response.json()
    sub = Subscription.objects.get(pk=response.json()["subscription"]["id"])
    assert sub.status == S.ACTIVE and response.json()["redirect_url"] == ""
    invoice = sub.invoices.get()
    assert (invoice.total, invoice.status) == (0, InvoiceStatus.PAID)
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert [g.amount for g in _plan_grants(customer)] == [20]
    assert entitlements_for(user=customer) == {"basic"}


@pytest.mark.django_db
def test_manual_plan_change_preview_uses_day_based_proration(
    no_stripe, customer, customer_api, manual_plan, admin_user
):

    PlanFactory(slug="office-plus", name="Office+", billing_source="manual")
    bigger = PlanFactory._meta.model.objects.get(slug="office-plus")
    bigger.monthly_price.unit_amount = 4000
    bigger.monthly_price.save(update_fields=["unit_amount"])
    bigger.product.tax_rate = "0.2000"
    bigger.product.save(update_fields=["tax_rate"])
    with time_machine.travel(START, tick=False):
        sub = service.subscribe(user=customer, plan="office", interval="month").subscription
        # The period is paid: its unused part is credited.
        invoice_service.mark_invoice_paid(invoice_id=sub.invoices.get().pk, actor=admin_user)
    # 2026-03-01 → 2026-04-01 is 31 days; 21 of them are left on 2026-03-11 12:00.
    with time_machine.travel(datetime(2026, 3, 11, 12, 0, tzinfo=UTC), tick=False):
        url = f"/api/v1/subscriptions/{sub.pk}/change-plan/"
        preview = customer_api.post(
            url, {"plan": "office-plus", "interval": "month", "preview": True}, format="json"
        ).json()
        assert [line["amount"] for line in preview["lines"]] == [-677, 2710, 407]
        assert preview["amount_due"] == 2710 - 677 + 407
        sub.refresh_from_db()
        assert sub.plan == manual_plan
        done = customer_api.post(
            url, {"plan": "office-plus", "interval": "month", "preview": False}, format="json"
        )
    assert done.status_code == 200 and done.json()["applied"] is True
    sub.refresh_from_db()
    assert sub.plan == bigger
    change = sub.invoices.get(billing_reason="subscription_update")
    # Tax (20 %) on the net difference.
    assert (change.subtotal, change.discount_amount, change.tax, change.total) == (
        2710,
        677,
        407,
        2440,
    )
    assert [line["amount"] for line in change.lines] == [-677, 2710, 407]
    # Another change waits for the unpaid change invoice.
    with time_machine.travel(datetime(2026, 3, 21, 12, 0, tzinfo=UTC), tick=False):
        refused = customer_api.post(
            url, {"plan": "office", "interval": "month", "preview": True}, format="json"
        )
    assert refused.status_code == 400 and change.number in refused.json()["detail"]
    invoice_service.mark_invoice_paid(invoice_id=change.pk, actor=admin_user)
    # Downgrading back leaves a credit for the next invoice, never a negative invoice.
    with time_machine.travel(datetime(2026, 3, 21, 12, 0, tzinfo=UTC), tick=False):
        back = customer_api.post(
            url, {"plan": "office", "interval": "month", "preview": False}, format="json"
        ).json()
    assert back["amount_due"] == 0 and back["credit"] > 0
    sub.refresh_from_db()
    assert sub.credit_balance == back["credit"]
    assert sub.invoices.count() == 2


@pytest.mark.django_db
def test_staff_invoice_actions_refuse_wrong_states(no_stripe, customer, manual_plan, admin_user):

    sub = service.subscribe(user=customer, plan="office", interval="month").subscription
    invoice = sub.invoices.get()
    with pytest.raises(errors.InvoiceStateInvalid):
        invoice_service.finalize_invoice(invoice_id=invoice.pk, actor=admin_user)
    invoice_service.send_invoice(invoice_id=invoice.pk, actor=admin_user)
    invoice_service.void_invoice(invoice_id=invoice.pk, actor=admin_user)
    with pytest.raises(errors.InvoiceStateInvalid):
        invoice_service.mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID and invoice.sent_at is not None
    assert not Payment.objects.filter(invoice=invoice).exists()


@pytest.mark.django_db
def test_subscribe_page_change_plan_page_and_printable_invoice(
    no_stripe, customer, customer_client, manual_plan
):
    page = customer_client.get("/billing/subscribe/office/?interval=month")
    assert page.status_code == 200 and "Confirm subscription" in page.content.decode()
    response = customer_client.post(
        "/billing/subscribe/office/", {"interval": "month", "discount_code": "NOPE"}
    )
    assert response.status_code == 400 and "discount_not_found" in response.content.decode()
    assert (
        not Subscription.objects.filter(user=customer).exclude(status=S.INCOMPLETE_EXPIRED).exists()
    )
    response = customer_client.post("/billing/subscribe/office/", {"interval": "month"})
    assert response.status_code == 302 and response["Location"] == "/billing/subscription/"
    sub = Subscription.objects.get(user=customer)
    again = customer_client.post("/billing/subscribe/office/", {"interval": "year"})
    assert again.status_code == 400 and "subscription_exists" in again.content.decode()
    overview = customer_client.get("/billing/subscription/").content.decode()
    assert "Office" in overview and "not refunded" in overview
    preview = customer_client.get(
        f"/billing/subscriptions/{sub.pk}/change-plan/", {"plan": "office", "interval": "year"}
    )
    assert preview.status_code == 200 and "Due now" in preview.content.decode()
    sub.refresh_from_db()
    assert sub.price == manual_plan.monthly_price
    invoice = sub.invoices.get()
    printable = customer_client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert invoice.number in printable and "Acme Cloud Ltd" in printable
    pdf = customer_client.get(f"/billing/invoices/{invoice.number}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listing = customer_client.get("/billing/invoices/").content.decode()
    assert invoice.number in listing
    assert customer_client.get("/billing/subscribe/nope/").status_code == 404


@pytest.mark.django_db
def test_seed_billing_subscribes_demo_users_once(no_stripe, manual_plan, free_plan, admin_user):

    alice = UserFactory(email="alice@demo.example")
    bob = UserFactory(email="bob@demo.example")
    for _ in range(2):
        call_command("seed_billing", "--paid-plan", "office", stdout=io.StringIO())
    alice_sub = Subscription.objects.get(user=alice)
    assert alice_sub.status == S.ACTIVE and alice_sub.invoices.get().status == "PAID"
    assert Subscription.objects.get(user=bob).plan == free_plan


@pytest.mark.django_db
def test_pages_cancel_resume_and_confirm_plan_change(
    no_stripe, customer, customer_client, manual_plan
):
    sub = service.subscribe(user=customer, plan="office", interval="month").subscription
    response = customer_client.post(
        f"/billing/subscriptions/{sub.pk}/cancel/", {"when": "period_end"}
    )
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.cancel_at_period_end is True
    assert "Resume subscription" in customer_client.get("/billing/subscription/").content.decode()
    customer_client.post(f"/billing/subscriptions/{sub.pk}/resume/")
    sub.refresh_from_db()
    assert sub.cancel_at_period_end is False
    # Without Stripe there is no card to update: a message, nothing else.
    response = customer_client.post(f"/billing/subscriptions/{sub.pk}/payment-method/")
    assert response.status_code == 302 and response["Location"] == "/billing/subscription/"
    response = customer_client.post(
        f"/billing/subscriptions/{sub.pk}/change-plan/",
        {"plan": "office", "interval": "year", "confirm": "1"},
    )
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.price == manual_plan.yearly_price
    response = customer_client.post(f"/billing/subscriptions/{sub.pk}/cancel/", {"when": "now"})
    sub.refresh_from_db()
    assert sub.status == S.CANCELED
    audited = AuditLog.objects.filter(
        resource_type="billing.Subscription",
        resource_id=str(sub.pk),
        context__operation__in=["subscription_cancel", "subscription_resume"],
    ).order_by("pk")
    assert list(audited.values_list("context__operation", "context__at_period_end")) == [
        ("subscription_cancel", True),
        ("subscription_resume", None),
        ("subscription_cancel", False),
    ]


@pytest.mark.django_db
def test_subscription_timeline_is_append_only(no_stripe, customer, manual_plan):

    sub = service.subscribe(user=customer, plan="office", interval="month").subscription
    event = sub.events.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        type(event).objects.filter(pk=event.pk).update(message="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        type(event).objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.message != "rewritten"


@pytest.mark.django_db
def test_discount_code_applies_to_the_first_manual_invoice_only(no_stripe, customer, manual_plan):

    code = Discount.objects.create(
        code="WELCOME", type="PERCENTAGE", percent_off=50, max_uses_per_customer=1
    )
    with time_machine.travel(START, tick=False):
        sub = service.subscribe(
            user=customer, plan="office", interval="month", discount_code="welcome"
        ).subscription
    first = sub.invoices.get()
    # 10.00 − 50 % = 5.00, then 20 % tax on the net: 1.00.
    assert (first.subtotal, first.discount_amount, first.tax, first.total) == (1000, 500, 100, 600)
    code.refresh_from_db()
    assert code.uses_count == 1
    with time_machine.travel(START + timedelta(days=31), tick=False):
        renewal_service.renew_manual_subscriptions()
    second = sub.invoices.exclude(pk=first.pk).get()
    assert (second.discount_amount, second.total) == (0, 1200)
    # The per-customer limit counts subscriptions too.
    from billing import errors  # noqa: PLC0415 - why: the comment above

    service.cancel(subscription=sub, at_period_end=False, actor=customer)
    with pytest.raises(errors.DiscountCustomerLimit):
        service.subscribe(user=customer, plan="office", interval="month", discount_code="WELCOME")


@pytest.mark.django_db
def test_data_export_includes_subscriptions_timeline_and_invoices(no_stripe, customer, manual_plan):

    service.subscribe(user=customer, plan="office", interval="month")
    [row] = data_export.sections()["subscriptions"](customer)
    assert row["plan"] == "office" and row["status"] == S.ACTIVE
    assert row["invoices"][0]["total"] == 1200
    assert row["timeline"] and all("message" in e for e in row["timeline"])
