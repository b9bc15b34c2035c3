"""The ticket page's billing panel and the approval requests, in money as people read it;
the panel's refund and credits forms take amounts the way people type them and refuse bad
ones beside the field (the page again, a 400), changing nothing. The tests submit the forms
the ticket page renders."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, InvoiceStatus, Refund, SubscriptionStatus
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from catalog.factories import PlanFactory
from config.tests.page_forms import find_form, submit
from core.models import AuditLog, SystemConfig
from credits.models import CREDITS_MAX, CreditBalance
from credits.selectors import balance_of
from credits.services import adjust_credits
from support import approvals
from support.models import ApprovalRequest, ApprovalStatus

pytestmark = pytest.mark.django_db


def _paid_order(user, total, currency="usd"):
    order = OrderFactory(user=user, subtotal=total, currency=currency)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"p-{order.number}",
        amount=total,
        currency=currency,
    )
    order.refresh_from_db()
    return order


def _beside(html, field_id, message) -> bool:
    field = re.search(rf'<(input|select)[^>]*\bid="{field_id}"', html)
    assert field, f"no field {field_id}"
    return any(
        abs(found.start() - field.start()) < 700 for found in re.finditer(re.escape(message), html)
    )


def _ticket_page(client, ticket):
    page = client.get(f"/admin/support/ticket/{ticket.pk}/change/")
    assert page.status_code == 200
    return page


def _nothing_changed(before):
    assert (
        Refund.objects.count(),
        ApprovalRequest.objects.count(),
        AuditLog.objects.filter(action__in=["REFUND", "CREDIT_ADJUST", "APPROVAL"]).count(),
    ) == before


def _snapshot():
    return (
        Refund.objects.count(),
        ApprovalRequest.objects.count(),
        AuditLog.objects.filter(action__in=["REFUND", "CREDIT_ADJUST", "APPROVAL"]).count(),
    )


def test_billing_panel_shows_money_and_plain_credits(
    client, support_agent, admin_user, customer, ticket
):
    plan = PlanFactory(billing_source="manual")
    now = timezone.now()
    sub = SubscriptionFactory(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        billing_source="manual",
        status=SubscriptionStatus.ACTIVE,
    )
    Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        subscription=sub,
        status=InvoiceStatus.OPEN,
        billing_source="manual",
        currency="usd",
        subtotal=71_137,
        total=71_137,
        amount_paid=20_000,
        amount_due=51_137,
        period_start=now,
        period_end=now + timedelta(days=30),
    )
    order = _paid_order(customer, 71_137)
    yen = _paid_order(customer, 5432, currency="jpy")
    adjust_credits(user=customer, amount=2500, reason="welcome", actor=admin_user)
    client.force_login(support_agent)

    html = _ticket_page(client, ticket).content.decode()

    assert "$10.00 per month" in html
    assert "due $511.37 ($200.00 of $711.37 paid)" in html
    assert f"{order.number} · Completed · $711.37" in html
    assert f"{yen.number} (¥5,432 left to refund)" in html
    assert "Credits: balance 2500" in html  # credits are not money
    assert "minor units" not in html and "71137" not in html and "51137" not in html


def _request_refund_credits_and_trial(support_agent, customer, ticket):
    """One pending approval request of each kind: a refund in dollars, a credit adjustment in
    credits, a trial extension in days."""
    order = _paid_order(customer, 5000)
    subscription = SubscriptionFactory(
        user=customer,
        status=SubscriptionStatus.TRIALING,
        billing_source="manual",
        trial_end=timezone.now() + timedelta(days=3),
    )
    requests = [
        (
            "billing.refund",
            {"user_id": customer.pk, "order_id": order.pk, "amount": 5000, "reason": "OTHER"},
            5000,
            "usd",
        ),
        ("credits.adjust", {"user_id": customer.pk, "amount": 5000, "reason": "outage"}, 5000, ""),
        (
            "billing.subscription.extend_trial",
            {
                "user_id": customer.pk,
                "subscription_id": subscription.pk,
                "days": 30,
                "trial_end": subscription.trial_end.isoformat(),
                "reason": "outage",
            },
            30,
            "",
        ),
    ]
    for key, payload, amount, currency in requests:
        approval = approvals.request_action(
            action_key=key,
            payload=payload,
            amount=amount,
            requested_by=support_agent,
            ticket=ticket,
            currency=currency,
        )
        assert approval.status == ApprovalStatus.PENDING


def test_approval_requests_name_the_action_and_its_amount_in_its_unit(
    client, support_agent, admin_user, customer, ticket
):
    SystemConfig.objects.create(key="support_approval_threshold", value=100)
    _request_refund_credits_and_trial(support_agent, customer, ticket)
    client.force_login(admin_user)

    listing = client.get("/admin/support/approvalrequest/").content.decode()
    panel = _ticket_page(client, ticket).content.decode()
    for html in (listing, panel):
        for words in (
            "Refund a payment",
            "$50.00",
            "Adjust a customer&#x27;s credits",
            "5,000 credits",
            "Extend a trial",
            "30 days",
        ):
            assert words in html, words
        # The policy's key is no text anyone reads (it stays in the filter's links).
        assert not re.search(r">[^<]*(billing|credits)\.[a-z_.]+[^<]*<", html)
    refund = ApprovalRequest.objects.get(action_key="billing.refund")
    detail = client.get(f"/admin/support/approvalrequest/{refund.pk}/change/").content.decode()
    assert "Refund a payment" in detail and "Amount: $50.00" in detail
    assert "5000" not in detail


def test_ticket_refund_form_takes_major_units(client, support_agent, customer, ticket):
    usd, yen = _paid_order(customer, 5000), _paid_order(customer, 5000, currency="jpy")
    client.force_login(support_agent)
    page = _ticket_page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/refund/")

    done = submit(
        client, page, form, {"order": usd.pk, "amount": "15.00", "reason": "REQUESTED_BY_CUSTOMER"}
    )
    assert done.status_code == 302
    done = submit(client, page, form, {"order": yen.pk, "amount": "1500", "reason": "OTHER"})
    assert done.status_code == 302
    assert sorted(Refund.objects.values_list("currency", "amount")) == [
        ("jpy", 1500),
        ("usd", 1500),
    ]
    assert (
        f"Refund of ¥1,500 issued on {yen.number}."
        in client.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    )


@pytest.mark.parametrize(
    "currency, typed, message",
    [
        ("usd", "1.234", "Use at most 2 decimals for USD."),
        ("jpy", "1.5", "Use at most 0 decimals for JPY."),
        ("usd", "100000000000000000000", "This amount is too large"),
        ("usd", "50.01", "larger than what is left to refund"),
        ("usd", "0", "Enter at least $0.01."),
        ("usd", "", "This field is required."),
    ],
)
def test_ticket_refund_form_refuses_bad_amounts_beside_the_field(
    client, support_agent, customer, ticket, currency, typed, message
):
    order = _paid_order(customer, 5000, currency=currency)
    client.force_login(support_agent)
    page = _ticket_page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/refund/")
    before = _snapshot()

    response = submit(
        client, page, form, {"order": order.pk, "amount": typed, "reason": "OTHER", "notes": "kept"}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert _beside(html, "refund-amount", message)
    assert 'value="kept"' in html  # what was typed is still there
    order.refresh_from_db()
    assert order.refunded_amount == 0
    _nothing_changed(before)


def test_ticket_refund_of_another_customers_order_is_refused_beside_the_field(
    client, support_agent, customer, other_customer, ticket
):
    _paid_order(customer, 5000)
    theirs = _paid_order(other_customer, 5000)
    client.force_login(support_agent)
    page = _ticket_page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/refund/")
    before = _snapshot()

    response = submit(client, page, form, {"order": theirs.pk, "amount": "1.00"})

    assert response.status_code == 400
    assert _beside(
        response.content.decode(), "refund-order", "That order does not belong to this customer."
    )
    _nothing_changed(before)


@pytest.mark.parametrize(
    "typed, message",
    [
        (str(CREDITS_MAX + 1), "Add at most 2,147,483,647 credits at a time."),
        (str(10**20), "Add at most 2,147,483,647 credits at a time."),
        (str(-(10**20)), "Remove at most 2,147,483,647 credits at a time."),
        ("0", "Enter a non-zero number of credits."),
        ("1.5", "Enter a whole number of credits."),
        (
            str(CREDITS_MAX),
            "A balance holds at most 2,147,483,647 credits: customer@example.com has 10",
        ),
    ],
)
def test_ticket_credits_form_refuses_amounts_a_balance_cannot_hold(
    client, admin_user, customer, ticket, typed, message
):
    adjust_credits(user=customer, amount=10, reason="start", actor=admin_user)
    client.force_login(admin_user)
    page = _ticket_page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/credits/")
    before = _snapshot()

    response = submit(client, page, form, {"amount": typed, "reason": "goodwill"})

    assert response.status_code == 400
    html = response.content.decode()
    assert _beside(html, "credit-amount", message)
    assert 'value="goodwill"' in html
    assert balance_of(user=customer) == 10
    assert CreditBalance.objects.get(user=customer).balance == 10
    _nothing_changed(before)


def test_ticket_credits_form_adjusts_within_bounds(client, admin_user, customer, ticket):
    client.force_login(admin_user)
    page = _ticket_page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/credits/")

    response = submit(client, page, form, {"amount": "2500", "reason": "goodwill"})

    assert response.status_code == 302
    assert balance_of(user=customer) == 2500
