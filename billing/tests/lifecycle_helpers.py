"""One Stripe subscription's life for the lifecycle tests (test_stripe_lifecycles): the
customer, the events of each step with the objects the double holds, and the books
(business records in plain values) expected after each step."""

import time

from django.db.models import Q
from django.utils import timezone

from analytics.metrics.revenue import compute_revenue
from billing.models import (
    CreditNote,
    CustomerBillingProfile,
    Invoice,
    Order,
    Payment,
    Refund,
    Subscription,
)
from billing.stripe.sync import ensure_stripe_price
from billing.tests.stripe_objects import example, wrap_event
from billing.tests.subscription_helpers import (
    DAY,
    stripe_invoice,
    stripe_paid_invoice,
    stripe_refund,
    stripe_subscription,
)
from catalog.factories import PlanFactory
from credits.selectors import balance_of

PRICE = 2900


def subscriber(customer, stripe_double):
    """A Stripe customer (cus_L) whose INCOMPLETE subscription to Pro waits for Stripe."""
    plan = PlanFactory(
        slug="pro", entitlements=["api_access"], credits_per_period=1000, trial_credits=0
    )
    plan.monthly_price.unit_amount = PRICE
    plan.monthly_price.save(update_fields=["unit_amount"])
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_L")
    stripe_double.put("customer", example("customer", id="cus_L", email=customer.email))
    price_id = ensure_stripe_price(plan.monthly_price)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status="INCOMPLETE",
        billing_source="stripe",
    )
    return local, price_id


class _Life:
    """Subscription sub_L of customer cus_L as the double holds it, and its events, each
    created a minute after the one before."""

    def __init__(self, double, local, price_id, *, trial_end, clock):
        self.double, self.local, self.price_id = double, local, price_id
        self.trial_end, self.clock = trial_end, clock

    def sub(self, status, start, end, **changes):
        return stripe_subscription(
            self.double,
            sub_id="sub_L",
            customer="cus_L",
            price_id=self.price_id,
            status=status,
            start=start,
            end=end,
            trial_end=self.trial_end,
            metadata={"subscription_id": str(self.local.pk)},
            **changes,
        )

    def event(self, obj, kind):
        return wrap_event(obj, kind, created=next(self.clock))

    def paid(self, inv_id, amount, start, end, reason="subscription_cycle"):
        return stripe_paid_invoice(
            self.double,
            inv_id=inv_id,
            sub_id="sub_L",
            customer="cus_L",
            amount=amount,
            start=start,
            end=end,
            billing_reason=reason,
        )


def subscription_life(double, local, price_id):
    """[(step, [events])] of one subscription's life; the double ends holding every object
    in its final state (as Stripe does when events are replayed later)."""
    now = int(time.time())
    t0, t1 = now - 5 * 3600, now - 4 * 3600  # the trial
    clock = iter(range(now - 3000, now, 60))
    life = _Life(double, local, price_id, trial_end=t1, clock=clock)
    o = _life_objects(life, now=now, trial=(t0, t1))
    event = life.event
    return [
        (
            "trial",
            [event(o["trial"], "customer.subscription.created"), event(o["in0"], "invoice.paid")],
        ),
        (
            "paid",
            [event(o["active"], "customer.subscription.updated"), event(o["in1"], "invoice.paid")],
        ),
        (
            "renewal paid",
            [event(o["in2"], "invoice.paid"), event(o["renewed"], "customer.subscription.updated")],
        ),
        (
            "payment failed",
            [
                event(o["failing"], "invoice.payment_failed"),
                event(o["past_due"], "customer.subscription.updated"),
            ],
        ),
        (
            "recovered",
            [
                event(o["in3"], "invoice.paid"),
                event(o["recovered"], "customer.subscription.updated"),
            ],
        ),
        (
            "refund of the last invoice",
            [event(o["charge"], "charge.refunded"), event(o["refund"], "refund.created")],
        ),
        ("dispute", [event(o["dispute"], "charge.dispute.created")]),
        ("cancel", [event(o["canceled"], "customer.subscription.deleted")]),
    ]


def _life_objects(life, *, now, trial):
    """Every Stripe object of the life, in the order they happen, put in the double."""
    double = life.double
    t0, t1 = trial
    p1, p2, p3 = now + 30 * DAY, now + 60 * DAY, now + 90 * DAY
    o = {"trial": life.sub("trialing", t0, t1)}
    o["in0"] = life.paid("in_L0", 0, t0, t1, reason="subscription_create")
    o["active"] = life.sub("active", t1, p1)
    o["in1"] = life.paid("in_L1", PRICE, t1, p1)
    o["renewed"] = life.sub("active", p1, p2)
    o["in2"] = life.paid("in_L2", PRICE, p1, p2)
    o["failing"] = stripe_invoice(
        inv_id="in_L3",
        sub_id="sub_L",
        customer="cus_L",
        amount=PRICE,
        status="open",
        start=p2,
        end=p3,
    )
    o["past_due"] = life.sub("past_due", p2, p3)
    o["in3"] = life.paid("in_L3", PRICE, p2, p3)
    o["recovered"] = life.sub("active", p2, p3)
    o["refund"], o["charge"] = stripe_refund(
        double, refund_id="re_L3", inv_id="in_L3", amount=PRICE
    )
    o["dispute"] = double.put(
        "dispute",
        {
            **example("dispute"),
            "id": "dp_L2",
            "amount": PRICE,
            "charge": "ch_in_L2",
            "payment_intent": "pi_in_L2",
            "currency": "usd",
            "reason": "fraudulent",
            "status": "needs_response",
        },
    )
    o["canceled"] = double.put(
        "subscription", {**life.sub("canceled", p2, p3), "canceled_at": now, "ended_at": now}
    )
    return o


def books(user) -> dict:
    """What the business records say, in plain values (comparable between runs)."""
    today = timezone.now().date()
    revenue = {row.metric: int(row.value) for row in compute_revenue(today)}
    return {
        "subscriptions": sorted(
            Subscription.objects.filter(user=user).values_list("stripe_subscription_id", "status")
        ),
        "invoices": sorted(
            Invoice.objects.filter(user=user).values_list(
                "stripe_invoice_id", "status", "amount_paid", "refunded_amount"
            )
        ),
        "payments": sorted(
            Payment.objects.filter(user=user).values_list(
                "provider_id",
                "stripe_charge_id",
                "amount",
                "status",
                "method_brand",
                "method_last4",
            )
        ),
        "refunds": sorted(
            Refund.objects.filter(user_filter(user)).values_list(
                "stripe_refund_id", "stripe_dispute_id", "amount", "status", "reason"
            ),
            key=str,
        ),
        "credit_notes": sorted(
            CreditNote.objects.filter(user=user).values_list(
                "invoice__stripe_invoice_id", "amount", "credits_clawed_back"
            )
        ),
        "orders": sorted(
            Order.objects.filter(user=user).values_list(
                "status", "payment_status", "total", "refunded_amount"
            )
        ),
        "credits": balance_of(user=user),
        "net_revenue": revenue.get("net_revenue", 0),
    }


def user_filter(user):
    return Q(order__user=user) | Q(invoice__user=user)


def subscription_books(customer, *, status, invoices, credits, refunds=(), notes=()):
    paid = [i for i in invoices if i[2]]
    return {
        "subscriptions": [("sub_L", status)],
        "invoices": sorted(invoices),
        "payments": sorted(
            (f"pi_{i[0]}", f"ch_{i[0]}", i[2], "SUCCEEDED", "visa", "4242") for i in paid
        ),
        "refunds": sorted(refunds, key=str),
        "credit_notes": sorted(notes),
        "orders": [],
        "credits": credits,
        "net_revenue": sum(i[2] for i in paid) - sum(r[2] for r in refunds),
    }


def expected_after_each_step(customer):
    trial = [("in_L0", "PAID", 0, 0)]
    one = [*trial, ("in_L1", "PAID", PRICE, 0)]
    two = [*one, ("in_L2", "PAID", PRICE, 0)]
    refund = ("re_L3", None, PRICE, "SUCCEEDED", "OTHER")
    dispute = (None, "dp_L2", PRICE, "SUCCEEDED", "DISPUTED")
    refunded = [*one, ("in_L2", "PAID", PRICE, 0), ("in_L3", "REFUNDED", PRICE, PRICE)]
    disputed = [*one, ("in_L2", "REFUNDED", PRICE, PRICE), ("in_L3", "REFUNDED", PRICE, PRICE)]
    notes = [("in_L3", PRICE, 1000)]
    return {
        "trial": subscription_books(customer, status="TRIALING", invoices=trial, credits=0),
        "paid": subscription_books(customer, status="ACTIVE", invoices=one, credits=1000),
        "renewal paid": subscription_books(customer, status="ACTIVE", invoices=two, credits=2000),
        "payment failed": subscription_books(
            customer, status="PAST_DUE", invoices=[*two, ("in_L3", "OPEN", 0, 0)], credits=2000
        ),
        "recovered": subscription_books(
            customer, status="ACTIVE", invoices=[*two, ("in_L3", "PAID", PRICE, 0)], credits=3000
        ),
        "refund of the last invoice": subscription_books(
            customer,
            status="ACTIVE",
            invoices=refunded,
            credits=2000,
            refunds=[refund],
            notes=notes,
        ),
        "dispute": subscription_books(
            customer,
            status="ACTIVE",
            invoices=disputed,
            credits=1000,
            refunds=[refund, dispute],
            notes=[*notes, ("in_L2", PRICE, 1000)],
        ),
        "cancel": subscription_books(
            customer,
            status="CANCELED",
            invoices=disputed,
            credits=1000,
            refunds=[refund, dispute],
            notes=[*notes, ("in_L2", PRICE, 1000)],
        ),
    }
