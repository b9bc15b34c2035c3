"""The steps of one Stripe-billed subscription's story (test_subscriptions' full lifecycle),
each delivering Stripe's events to our webhook and checking what changed."""

from dataclasses import dataclass

from django.core import mail

from billing.models import Invoice, InvoiceStatus, Payment, Subscription, SubscriptionStatus
from billing.selectors import entitlements_for
from billing.tests.subscription_helpers import DAY, deliver, stripe_invoice, stripe_subscription
from credits.models import CreditGrant

S = SubscriptionStatus


def plan_grants(user):
    return list(CreditGrant.objects.filter(user=user, source="PLAN").order_by("id"))


@dataclass
class Lifecycle:
    """One Stripe-billed subscription's story, delivered as Stripe's events to our webhook."""

    stripe_double: object
    client: object
    capture: object
    customer: object
    local: Subscription
    cus: str
    price_id: str
    now: int
    t: int

    def deliver(self, obj, event_type, **kwargs):
        return deliver(self.client, self.capture, obj, event_type, **kwargs)

    def subscription(self, **kwargs):
        return stripe_subscription(
            self.stripe_double, sub_id="sub_L", customer=self.cus, price_id=self.price_id, **kwargs
        )

    def invoice(self, **kwargs):
        return stripe_invoice(sub_id="sub_L", customer=self.cus, **kwargs)


def trial_starts(run: Lifecycle) -> None:
    """1. Checkout completed: a trialing subscription (trial credits once)."""
    now, t, local, customer = run.now, run.t, run.local, run.customer
    trial = run.subscription(
        status="trialing",
        start=now - DAY,
        end=now + 13 * DAY,
        trial_end=now + 13 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    run.deliver(trial, "customer.subscription.created", created=t)
    run.deliver(trial, "customer.subscription.updated", created=t + 1)
    local.refresh_from_db()
    assert (local.status, local.stripe_subscription_id) == (S.TRIALING, "sub_L")
    assert local.trial_end is not None
    [trial_lot] = CreditGrant.objects.filter(user=customer, source="TRIAL")
    assert (trial_lot.amount, trial_lot.expires_at) == (50, local.trial_end)
    trial_invoice = run.invoice(
        inv_id="in_trial",
        amount=0,
        status="paid",
        billing_reason="subscription_create",
        start=now - DAY,
        end=now + 13 * DAY,
        paid_at=t + 2,
    )
    run.deliver(trial_invoice, "invoice.paid", created=t + 2)
    assert plan_grants(customer) == []  # the trial's $0 invoice grants no plan credits


def first_period_paid(run: Lifecycle) -> tuple:
    """2. Trial ends: active, first paid period grants the plan's credits; 3. the same
    renewal delivered again (same event, and as a second event type). Returns its period."""
    now, t, local, customer = run.now, run.t, run.local, run.customer
    p1 = (now, now + 30 * DAY)
    active = run.subscription(start=p1[0], end=p1[1], metadata={"subscription_id": str(local.pk)})
    run.deliver(active, "customer.subscription.updated", created=t + 10)
    paid1 = run.invoice(
        inv_id="in_p1",
        amount=1000,
        status="paid",
        billing_reason="subscription_cycle",
        start=p1[0],
        end=p1[1],
        paid_at=t + 11,
    )
    event = run.deliver(paid1, "invoice.paid", created=t + 11)
    local.refresh_from_db()
    assert local.status == S.ACTIVE
    [grant] = plan_grants(customer)
    assert (grant.amount, int(grant.expires_at.timestamp())) == (1000, p1[1])
    invoice = Invoice.objects.get(stripe_invoice_id="in_p1")
    assert (invoice.status, invoice.total, invoice.amount_paid, invoice.subscription) == (
        InvoiceStatus.PAID,
        1000,
        1000,
        local,
    )
    assert Payment.objects.get(invoice=invoice).amount == 1000

    run.deliver(paid1, "invoice.paid", created=t + 11, event_id=event["id"])
    run.deliver(paid1, "invoice.payment_succeeded", created=t + 12)
    assert len(plan_grants(customer)) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    return p1


def renewed(run: Lifecycle, p1: tuple) -> tuple[dict, tuple]:
    """4. Next renewal: credits for the new period, once. Returns (subscription, period)."""
    t, local = run.t, run.local
    p2 = (p1[1], p1[1] + 30 * DAY)
    renewed = run.subscription(start=p2[0], end=p2[1])
    run.deliver(renewed, "customer.subscription.updated", created=t + 20)
    paid2 = run.invoice(
        inv_id="in_p2", amount=1000, status="paid", start=p2[0], end=p2[1], paid_at=t + 21
    )
    run.deliver(paid2, "invoice.paid", created=t + 21)
    assert [g.amount for g in plan_grants(run.customer)] == [1000, 1000]
    local.refresh_from_db()
    assert int(local.current_period_end.timestamp()) == p2[1]
    return renewed, p2


def payment_fails_then_recovers(run: Lifecycle, p2: tuple, customer_client) -> None:
    """5. The next payment fails: past due, one e-mail, a banner with a fix-payment link;
    6. recovered: the retry succeeds."""
    t, local, customer = run.t, run.local, run.customer
    mail.outbox.clear()
    p3 = (p2[1], p2[1] + 30 * DAY)
    failed = run.invoice(inv_id="in_p3", amount=1000, status="open", start=p3[0], end=p3[1])
    run.deliver(failed, "invoice.payment_failed", created=t + 30)
    run.deliver(failed, "invoice.payment_failed", created=t + 31)
    local.refresh_from_db()
    assert local.status == S.PAST_DUE and local.past_due_since is not None
    assert len(mail.outbox) == 1 and "payment failed" in mail.outbox[0].subject.lower()
    page = customer_client.get("/billing/subscription/")
    assert "Fix your payment" in page.content.decode()
    assert entitlements_for(user=customer) == {"api_access", "priority_support"}  # grace

    paid3 = {**failed, "status": "paid", "amount_paid": 1000, "amount_due": 1000}
    run.deliver(paid3, "invoice.paid", created=t + 40)
    local.refresh_from_db()
    assert (local.status, local.past_due_since) == (S.ACTIVE, None)
    assert len(plan_grants(customer)) == 3


def canceled(run: Lifecycle, renewed: dict, customer_api) -> None:
    """7. Canceled; a late, older "active" update does not revive it."""
    now, t, local = run.now, run.t, run.local
    ended = {**renewed, "status": "canceled", "canceled_at": now, "ended_at": now}
    run.deliver(ended, "customer.subscription.deleted", created=t + 50)
    run.deliver(renewed, "customer.subscription.updated", created=t + 45)
    local.refresh_from_db()
    assert local.status == S.CANCELED
    assert entitlements_for(user=run.customer) == set()
    types = list(local.events.order_by("id").values_list("type", flat=True))
    for expected in (
        "CREATED",
        "TRIAL_STARTED",
        "ACTIVATED",
        "INVOICE_PAID",
        "CREDITS_GRANTED",
        "RENEWED",
        "PAYMENT_FAILED",
        "CANCELED",
    ):
        assert expected in types
    # The customer reads the timeline in plain words.
    detail = customer_api.get(f"/api/v1/subscriptions/{local.pk}/").json()
    assert any("credits added" in row["message"] for row in detail["timeline"])
