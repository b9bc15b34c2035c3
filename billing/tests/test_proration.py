"""Manual plan changes credit only what was paid, and every invoice adds up: unit tests of
the rules, the page that shows them, a database CHECK, and a property-based test over random
plans, discounts, payments and dates."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.factories import UserFactory
from billing import errors
from billing.factories import DiscountFactory
from billing.models import BillingSource, Invoice, InvoiceStatus, Subscription
from billing.services import invoice_lines
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle, plan_change
from billing.services.subscriptions import renewal as renewal_service
from catalog.factories import PlanFactory

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # March has 31 days
MID = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 21 of them left


def _plan(slug, monthly, yearly=None, tax="0.0000"):

    plan = PlanFactory(slug=slug, name=slug.title(), billing_source="manual")
    plan.monthly_price.unit_amount = monthly
    plan.monthly_price.save(update_fields=["unit_amount"])
    plan.yearly_price.unit_amount = monthly * 10 if yearly is None else yearly
    plan.yearly_price.save(update_fields=["unit_amount"])
    plan.product.tax_rate = tax
    plan.product.save(update_fields=["tax_rate"])
    return plan


@pytest.fixture
def business(db):
    return _plan("business", 7900, 79000)


def _assert_adds_up(user):
    for invoice in Invoice.objects.filter(user=user):
        assert invoice_lines.reconciliation_problems(invoice) == [], invoice.lines


@pytest.mark.django_db
def test_unpaid_discounted_period_is_cancelled_and_the_used_time_charged(
    no_stripe, customer, business
):
    DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    with time_machine.travel(START, tick=False):
        sub = lifecycle.subscribe(
            user=customer, plan="business", interval="month", discount_code="WELCOME10"
        ).subscription
    first = sub.invoices.get()
    assert (first.subtotal, first.discount_amount, first.total) == (7900, 790, 7110)
    with time_machine.travel(MID, tick=False):
        preview = plan_change.change_plan(
            subscription=sub, plan="business", interval="year", preview=True, actor=customer
        )
        # 10 of 31 days used of the 71.10 billed: 22.94 (71.10 - 48.16 unused).
        assert preview.lines[0]["amount"] == 7110 - round(7110 * 21 / 31)
        assert [line["kind"] for line in preview.lines] == ["item", "item"]
        assert preview.credit == 0 and preview.voids == first.number
        assert preview.subtotal == 2294 + 79000 == preview.amount_due
        plan_change.change_plan(
            subscription=sub, plan="business", interval="year", preview=False, actor=customer
        )
    first.refresh_from_db()
    assert first.status == InvoiceStatus.VOID and first.amount_due == 0
    change = sub.invoices.get(billing_reason="subscription_update")
    assert (change.subtotal, change.discount_amount, change.tax, change.total) == (
        81294,
        0,
        0,
        81294,
    )
    _assert_adds_up(customer)


@pytest.mark.django_db
def test_paid_discounted_period_credits_the_discounted_amount(
    no_stripe, customer, business, admin_user
):
    DiscountFactory(code="WELCOME10", percent_off=10)
    with time_machine.travel(START, tick=False):
        sub = lifecycle.subscribe(
            user=customer, plan="business", interval="month", discount_code="WELCOME10"
        ).subscription
        invoice_service.mark_invoice_paid(invoice_id=sub.invoices.get().pk, actor=admin_user)
    with time_machine.travel(MID, tick=False):
        result = plan_change.change_plan(
            subscription=sub, plan="business", interval="year", preview=False, actor=customer
        )
    credit = round(7110 * 21 / 31)
    assert result.lines[0] == {
        "description": "Unused time on Business",
        "amount": -credit,
        "kind": "credit",
    }
    change = sub.invoices.get(billing_reason="subscription_update")
    assert (change.subtotal, change.discount_amount, change.total) == (
        79000,
        credit,
        79000 - credit,
    )
    _assert_adds_up(customer)


@pytest.mark.django_db
def test_cancelled_invoice_gives_back_the_credit_it_used(no_stripe, customer, admin_user):
    _plan("small", 3000)
    _plan("large", 9000)
    with time_machine.travel(START, tick=False):
        sub = lifecycle.subscribe(user=customer, plan="small", interval="month").subscription
    Subscription.objects.filter(pk=sub.pk).update(credit_balance=1000)
    sub.refresh_from_db()
    # The renewal takes 10.00 of credit; nobody pays the rest.
    invoice_service.mark_invoice_paid(invoice_id=sub.invoices.get().pk, actor=admin_user)
    with time_machine.travel(datetime(2026, 4, 1, 12, 1, tzinfo=UTC), tick=False):
        renewal_service.renew_manual_subscriptions()
    sub.refresh_from_db()
    renewal = sub.invoices.get(status=InvoiceStatus.OPEN)
    assert renewal.discount_amount == 1000 and sub.credit_balance == 0
    with time_machine.travel(datetime(2026, 4, 16, 0, 1, tzinfo=UTC), tick=False):
        plan_change.change_plan(
            subscription=sub, plan="large", interval="month", preview=False, actor=customer
        )
    renewal.refresh_from_db()
    sub.refresh_from_db()
    assert renewal.status == InvoiceStatus.VOID and sub.credit_balance == 1000
    _assert_adds_up(customer)


@pytest.mark.django_db
def test_part_paid_period_is_refused_with_its_invoice_named(
    no_stripe, customer, business, admin_user
):

    with time_machine.travel(START, tick=False):
        sub = lifecycle.subscribe(user=customer, plan="business", interval="month").subscription
        invoice = sub.invoices.get()
        invoice_service.mark_invoice_paid(
            invoice_id=invoice.pk, actor=admin_user, amount=100, reference="BANK-1"
        )
    with time_machine.travel(MID, tick=False), pytest.raises(errors.PlanChangeInvalid) as exc:
        plan_change.change_plan(
            subscription=sub, plan="business", interval="year", preview=True, actor=customer
        )
    assert invoice.number in exc.value.message


@pytest.mark.django_db
def test_the_database_refuses_an_invoice_that_does_not_add_up(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            number="INV-BAD-1",
            user=customer,
            currency="usd",
            billing_source=BillingSource.MANUAL,
            subtotal=79000,
            discount_amount=7900,
            tax=0,
            total=79000,
            amount_due=79000,
        )


@pytest.mark.django_db
def test_change_page_numbers_add_up_after_an_unpaid_invoice(
    no_stripe, customer, customer_client, business
):
    DiscountFactory(code="WELCOME10", percent_off=10)
    with time_machine.travel(START, tick=False):
        sub = lifecycle.subscribe(
            user=customer, plan="business", interval="month", discount_code="WELCOME10"
        ).subscription
    first = sub.invoices.get()
    with time_machine.travel(MID, tick=False):
        url = f"/billing/subscriptions/{sub.pk}/change-plan/"
        page = customer_client.get(url, {"plan": "business", "interval": "year"})
        html = page.content.decode()
        lines = [int(x) for x in re.findall(r'<td class="num" data-amount="(-?\d+)"', html)]
        totals = re.search(r'id="change-totals">(.*?)</dl>', html, re.S).group(1)
        figures = [int(x) for x in re.findall(r'data-amount="(-?\d+)"', totals)]
        subtotal, tax, total = figures[0], figures[-2], figures[-1]
        assert sum(lines) == total == subtotal + tax
        assert f"unpaid invoice {first.number} is cancelled" in html
        form = re.search(r'<form method="post">(.*?)</form>', html, re.S).group(1)
        data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
        done = customer_client.post(url, data)
    assert done.status_code == 302
    change = sub.invoices.get(billing_reason="subscription_update")
    assert change.total == total
    invoice_page = customer_client.get(f"/billing/invoices/{change.number}/").content.decode()
    assert "Subtotal" in invoice_page and change.number in invoice_page
    _assert_adds_up(customer)


PRICES = st.integers(min_value=0, max_value=50_000)


@pytest.mark.django_db
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    monthly=st.lists(PRICES, min_size=3, max_size=3),
    percent=st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    tax=st.sampled_from(["0.0000", "0.2000", "0.0700", "0.1900"]),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),
            st.sampled_from(["month", "year"]),
            st.integers(min_value=0, max_value=400),  # hours later
            st.booleans(),
        ),  # pay what is open first
        min_size=1,
        max_size=4,
    ),
    pay_first=st.booleans(),
)
def test_random_plan_changes_credit_only_what_was_paid_and_add_up(
    no_stripe, admin_user, monthly, percent, tax, steps, pay_first
):
    with transaction.atomic():
        plans = [_plan(f"p{i}-{monthly[i]}", monthly[i], monthly[i] * 10, tax) for i in range(3)]
        user = UserFactory()
        code = None
        if percent:
            code = DiscountFactory(code=f"P{percent}", percent_off=percent).code
        now = START
        with time_machine.travel(now, tick=False):
            sub = lifecycle.subscribe(
                user=user, plan=plans[0], interval="month", discount_code=code
            ).subscription
            if pay_first:
                for invoice in sub.invoices.filter(status=InvoiceStatus.OPEN):
                    invoice_service.mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user)
        for target, interval, hours, pay_open in steps:
            now = now + timedelta(hours=hours)
            with time_machine.travel(now, tick=False):
                renewal_service.renew_manual_subscriptions(now=now)
                sub.refresh_from_db()
                if pay_open:
                    for invoice in sub.invoices.filter(status=InvoiceStatus.OPEN):
                        invoice_service.mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user)
                sub.refresh_from_db()
                paid_before = _paid_net(sub)
                credited_before = _credited(sub)
                try:
                    result = plan_change.change_plan(
                        subscription=sub,
                        plan=plans[target],
                        interval=interval,
                        preview=False,
                        actor=user,
                    )
                except errors.DomainError as exc:
                    event(f"refused: {exc.code}")
                    continue
                assert result.applied
                event(
                    f"applied (voided an invoice: {bool(result.voids)}, "
                    f"credit line: {any(li['kind'] == 'credit' for li in result.lines)})"
                )
                sub.refresh_from_db()
                # What was credited for unused time never exceeds what was paid.
                assert _credited(sub) - credited_before <= paid_before
                # No unpaid invoice is left for a period the change replaced.
                for invoice in sub.invoices.filter(status=InvoiceStatus.OPEN):
                    assert invoice.billing_reason == "subscription_update" or (
                        invoice.period_end == sub.current_period_end or invoice.period_end <= now
                    ), invoice.lines
        for invoice in Invoice.objects.filter(user=user):
            assert invoice_lines.reconciliation_problems(invoice) == [], invoice.lines
        transaction.set_rollback(True)


def _paid_net(sub):
    """Everything paid on the subscription's invoices, before tax (what can be credited)."""
    total = 0
    for invoice in sub.invoices.filter(status=InvoiceStatus.PAID):
        total += invoice.total - invoice.tax
    return total


def _credited(sub):
    """Credit given for unused time: credit lines of change invoices and the balance."""
    credit = sub.credit_balance
    for invoice in sub.invoices.exclude(status=InvoiceStatus.VOID):
        credit += sum(
            -int(line["amount"])
            for line in invoice.lines
            if line.get("kind") == "credit" and invoice.billing_reason == "subscription_update"
        )
    return credit
