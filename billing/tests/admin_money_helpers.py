"""Shared set-up of the staff console money tests: the changelists, the action and form
helpers, and the invoices and orders they act on."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, InvoiceStatus
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from catalog.factories import CreditPackFactory, PlanFactory
from config.tests.page_forms import find_form, submit
from credits.models import CreditGrant

ORDERS, INVOICES = "/admin/billing/order/", "/admin/billing/invoice/"


@pytest.fixture(autouse=True)
def fresh_config_cache():
    # SystemConfig values (approval limits) are cached: none may leak between tests.
    cache.clear()
    yield
    cache.clear()


def run_action(client, changelist: str, action: str, pks):
    """Choose ``action`` for the rows ``pks`` in the changelist's own form and press Go."""
    page = client.get(changelist)
    assert page.status_code == 200
    form = find_form(page, form_id="changelist-form")
    return submit(
        client,
        page,
        form,
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
        button="index",
    )


def beside(html: str, field_id: str, message: str) -> bool:
    """``message`` is shown next to the field ``field_id`` (within its form row)."""
    field = re.search(rf'<(input|select|textarea)[^>]*\bid="{re.escape(field_id)}"', html)
    assert field, f"no field {field_id}"
    return any(
        abs(found.start() - field.start()) < 700 for found in re.finditer(re.escape(message), html)
    )


def manual_invoice(customer, total=71_137, currency="usd", credits=300):
    """An open manual invoice for a subscription period whose plan grants ``credits``."""
    plan = PlanFactory(billing_source="manual", credits_per_period=credits)
    now = timezone.now()
    sub = SubscriptionFactory(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        billing_source="manual",
        current_period_start=now,
        current_period_end=now + timedelta(days=30),
    )
    return Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        subscription=sub,
        status=InvoiceStatus.OPEN,
        billing_source="manual",
        currency=currency,
        subtotal=total,
        total=total,
        amount_due=total,
        billing_reason="subscription_cycle",
        period_start=now,
        period_end=now + timedelta(days=30),
        lines=[{"description": "Team plan", "quantity": 1, "unit_amount": total, "amount": total}],
    )


def order_with_invoice(customer, total=90_000, credits=100):
    """A manual checkout's order (a credit pack) with its invoice, unpaid."""
    pack = CreditPackFactory(credits_granted=credits)
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, product=pack, unit_amount=total, credits_granted=credits)
    Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        order=order,
        status=InvoiceStatus.OPEN,
        billing_source="manual",
        currency=order.currency,
        subtotal=total,
        total=total,
        amount_due=total,
        payment_reference=order.number,
    )
    return order


def paid_order(customer, total, currency="usd"):
    order = OrderFactory(user=customer, subtotal=total, currency=currency)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"t-{order.number}",
        amount=total,
        currency=currency,
    )
    order.refresh_from_db()
    return order


def mark_paid_page(client, changelist, obj):
    page = run_action(client, changelist, "action_mark_paid", [obj.pk])
    assert page.status_code == 200, page.status_code
    return page, find_form(page, has=f"paid-{obj.pk}-paid_on")


def plan_grants(customer):
    return list(
        CreditGrant.objects.filter(user=customer, source="PLAN").values_list("amount", flat=True)
    )
