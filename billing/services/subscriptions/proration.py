"""Manual billing's plan change arithmetic: our day-based proration by the second, and the
invoice lines and preview of a change."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet

from billing import errors
from billing.models import BillingSource, Invoice, InvoiceStatus, Subscription
from billing.pricing import round_minor
from billing.services.invoice_lines import line_kind
from billing.services.period_credits import PERIOD_REASONS
from billing.services.subscriptions.state import ChangePreview, S, add_interval, price_of
from billing.tax import tax_for
from catalog.models import Plan, Price


def _share(amount: int, fraction: Decimal) -> int:
    return int((Decimal(amount) * fraction).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _left(start: datetime, end: datetime, now: datetime) -> Decimal:
    """The fraction of [start, end] still ahead at ``now``, by the second."""
    total = Decimal(max(1, int((end - start).total_seconds())))
    return Decimal(min(max(0, int((end - now).total_seconds())), int(total))) / total


def _current_period_invoices(sub: Subscription) -> QuerySet[Invoice]:
    if not sub.current_period_end:
        return Invoice.objects.none()
    return (
        Invoice.objects.filter(
            subscription=sub, billing_source=BillingSource.MANUAL, period_end=sub.current_period_end
        )
        .exclude(status=InvoiceStatus.VOID)
        .order_by("created_at", "id")
    )


def _invoiced_current_price(invoice: Invoice, sub: Subscription) -> bool:
    items = [line for line in invoice.lines or [] if line.get("kind", "item") == "item"]
    if not items:
        return False
    if "price" in items[0]:
        return bool(items[0]["price"] == sub.price_id)
    return bool(items[0].get("unit_amount") == price_of(sub).unit_amount)


def period_value(invoice: Invoice | None, sub: Subscription) -> int:
    """What the current plan is worth for a whole period, as the customer was charged for it:
    the price times the quantity, less the discount code's part when ``invoice`` (the
    period's own invoice, for the current price) took one off."""
    base = price_of(sub).unit_amount * sub.quantity
    if (
        invoice is None
        or invoice.billing_reason not in PERIOD_REASONS
        or not _invoiced_current_price(invoice, sub)
    ):
        return base
    code_discount = sum(
        -int(line.get("amount") or 0)
        for line in invoice.lines or []
        if line_kind(line) == "discount"
    )
    return max(0, invoice.subtotal - code_discount)


def _billed_value(invoice: Invoice) -> int:
    """What an unpaid period invoice charges for its period, before credits and tax."""
    code_discount = sum(
        -int(line.get("amount") or 0)
        for line in invoice.lines or []
        if line_kind(line) == "discount"
    )
    return max(0, invoice.subtotal - code_discount)


def manual_proration(sub: Subscription, price: Price, *, now: datetime) -> dict[str, Any]:
    """Our day-based proration, by the second, rounded half-up once per amount; it credits
    only what was paid.

    Same interval: charge the unused share of the new price; the period stays. New interval:
    start a new full period of the new price now. For the old plan:
    - its period invoice is paid: credit the unused share of what it charged (a discounted
      period credits the discounted amount);
    - its period invoice is unpaid (nothing paid on it): that invoice is to be cancelled and
      the time used on the old plan is charged instead (``void`` and ``used``);
    - nothing was invoiced for the period (a trial, a free or comped period): no credit.
    A part-paid invoice or an unpaid plan-change invoice in the period is refused
    (PlanChangeInvalid): it is to be paid first. Trials cost nothing to change.
    """
    result: dict[str, Any] = {
        "credit": 0,
        "charge": 0,
        "used": 0,
        "void": None,
        "period_start": sub.current_period_start,
        "period_end": sub.current_period_end,
    }
    if sub.status == S.TRIALING or not sub.current_period_end:
        return result
    start, end = sub.current_period_start, sub.current_period_end
    assert start is not None  # a period's start and end are always set together
    left = _left(start, end, now)
    invoices = list(_current_period_invoices(sub))
    unpaid = [inv for inv in invoices if inv.status != InvoiceStatus.PAID]
    paid = [inv for inv in invoices if inv.status == InvoiceStatus.PAID]
    if unpaid:
        first = unpaid[0]
        if (
            len(unpaid) > 1
            or paid
            or first.amount_paid
            or first.billing_reason not in PERIOD_REASONS
        ):
            raise errors.PlanChangeInvalid(
                f"Invoice {first.number} for this period is not fully paid; pay it before "
                "changing plan.",
                invoice=first.number,
            )
        value = _billed_value(first)
        inv_left = _left(first.period_start or start, first.period_end or end, now)
        result["used"] = value - _share(value, inv_left)
        result["void"] = first
    elif paid:
        period_invoice = next((inv for inv in paid if inv.billing_reason in PERIOD_REASONS), None)
        result["credit"] = _share(period_value(period_invoice, sub), left)
    new_amount = price.unit_amount * sub.quantity
    if _same_interval(price, price_of(sub)):
        result["charge"] = _share(new_amount, left)
        return result
    result.update(
        charge=new_amount,
        period_start=now,
        period_end=add_interval(now, price.interval, price.interval_count),
    )
    return result


def _same_interval(new: Price, old: Price) -> bool:
    return new.interval == old.interval and new.interval_count == old.interval_count


def net_of(calc: dict[str, Any]) -> tuple[int, int]:
    """(subtotal, net) of a change: what it charges, and that less the credit."""
    subtotal = calc["used"] + calc["charge"]
    return subtotal, subtotal - calc["credit"]


def _change_lines(
    sub: Subscription, plan: Plan, interval: str, calc: dict[str, Any]
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    if calc["used"]:
        lines.append(
            {
                "description": f"{sub.plan.name} from {sub.current_period_start:%d %b %Y}"
                f" to today (replaces unpaid invoice "
                f"{calc['void'].number})",
                "amount": calc["used"],
                "kind": "item",
            }
        )
    if calc["credit"]:
        lines.append(
            {
                "description": f"Unused time on {sub.plan.name}",
                "amount": -calc["credit"],
                "kind": "credit",
            }
        )
    if calc["charge"]:
        lines.append(
            {
                "description": f"{plan.name} ({interval}ly) from today",
                "amount": calc["charge"],
                "kind": "item",
            }
        )
    return lines


def change_preview(
    sub: Subscription, plan: Plan, price: Price, interval: str, *, now: datetime
) -> tuple[ChangePreview, dict, list[dict]]:
    """The preview of a manual plan change at ``now``, the proration it rests on
    (``manual_proration``) and the invoice's item lines (before tax)."""
    calc = manual_proration(sub, price, now=now)
    lines = _change_lines(sub, plan, interval, calc)
    subtotal, net = net_of(calc)
    decision = tax_for(sub.user, product=plan.product)
    tax = round_minor(Decimal(net) * decision.rate) if net > 0 else 0
    tax_lines = (
        [{"description": decision.line_label(), "amount": tax, "kind": "tax"}]
        if tax
        else [decision.reverse_charge_line()]
        if decision.reverse_charge and net > 0
        else []
    )
    result = ChangePreview(
        plan=plan,
        price=price,
        interval=interval,
        currency=price.currency,
        amount_due=max(net, 0) + tax,
        credit=max(-net, 0),
        lines=[*lines, *tax_lines],
        proration_date=int(now.timestamp()),
        subscription=sub,
        subtotal=subtotal if net > 0 else 0,
        discount=calc["credit"] if net > 0 else 0,
        tax=tax,
        voids=calc["void"].number if calc["void"] else "",
    )
    return result, calc, lines
