"""Subscription invoices: Stripe's mirrored, manual ones made here; payment grants credits.

A bank transfer for a manual invoice is recorded by ``bank_transfers``; the plan's credits
for a paid period are granted by ``period_credits``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import authority
from accounts.models import User
from billing import errors
from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.pricing import discount_total, round_minor
from billing.services import timeline
from billing.services.bank_transfers import (
    lock_invoice,
    record_bank_transfer,
    require_manual,
    settle_invoice,
)
from billing.services.invoice_lines import line_kind
from billing.services.numbers import next_number
from billing.services.period_credits import PERIOD_REASONS
from billing.services.timeline import EventType, Source
from billing.tax import tax_for
from core import audit, outbox
from core.models import AuditAction
from core.money import format_money
from core.system_config import get_config
from coupons import services as coupons
from coupons.models import Duration

S = SubscriptionStatus
# Invoices only move forward: a late "finalized" never reopens a paid or void invoice.
RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 3,
    # Set by our refunds, never by Stripe's invoice status (which stays "paid").
    InvoiceStatus.PARTIALLY_REFUNDED: 4,
    InvoiceStatus.REFUNDED: 4,
}


def invoice_for_user(*, user: User, number: str) -> Invoice:
    invoice = (
        Invoice.objects.filter(user=user, number=number)
        .select_related("subscription", "subscription__plan")
        .first()
    )
    if invoice is None:
        raise errors.InvoiceNotFound()
    return invoice


def _due_date(now: datetime | None = None) -> date:
    now = now or timezone.now()
    return (now + timedelta(days=get_config("billing.invoice_due_days"))).date()


# --- manual invoices ---------------------------------------------------------------------


def discount_applies(
    subscription: Subscription, *, period_start: datetime, billing_reason: str
) -> bool:
    """Whether the subscription's discount comes off the invoice of the period starting at
    ``period_start``: the first invoice (once), the invoices of periods starting within N
    months of the first invoiced period (repeating), or every invoice (forever)."""
    if not subscription.discount_id:
        return False
    duration, months = coupons.duration_of(subscription.discount)
    if duration == Duration.FOREVER:
        return True
    if duration == Duration.ONCE:
        return billing_reason == "subscription_create"
    first = (
        Invoice.objects.filter(
            subscription=subscription, billing_reason__in=PERIOD_REASONS, period_start__isnull=False
        )
        .order_by("period_start")
        .values_list("period_start", flat=True)
        .first()
    )
    start = min(first, period_start) if first else period_start
    limit: datetime = start + relativedelta(months=months)
    return period_start < limit


def code_used(subscription: Subscription) -> str:
    """The code the customer typed for the subscription's discount: its promotion code, else
    the coupon's own code."""
    if subscription.promotion_code_id and subscription.promotion_code is not None:
        return subscription.promotion_code.code
    return subscription.discount.code if subscription.discount is not None else ""


def create_period_invoice(
    subscription: Subscription, *, period_start: datetime, period_end: datetime, billing_reason: str
) -> Invoice:
    """The invoice for one period of a manual subscription (call inside a transaction).

    The discount applies for its duration (coupons: first invoice, N months or every
    invoice); a credit balance (unused time from a
    downgrade) is taken off, never below zero. A $0 invoice is paid at once.
    """
    existing = Invoice.objects.filter(
        subscription=subscription, period_start=period_start, billing_reason__in=PERIOD_REASONS
    ).first()
    if existing is not None:
        return existing  # one invoice per period, whatever retries happen
    price, plan = subscription.price, subscription.plan
    assert price is not None  # a manual subscription is always created with its price
    amount = price.unit_amount * subscription.quantity
    lines: list[dict[str, object]] = [
        {
            "description": f"{plan.name} ({price.interval}ly), "
            f"{period_start:%d %b %Y} – {period_end:%d %b %Y}",
            "quantity": subscription.quantity,
            "unit_amount": price.unit_amount,
            "amount": amount,
            "kind": "item",
            "price": price.pk,
        }
    ]
    discount_amount = 0
    discount = subscription.discount
    if discount is not None and discount_applies(
        subscription, period_start=period_start, billing_reason=billing_reason
    ):
        discount_amount = discount_total(discount, amount)
        lines.append(
            {
                "description": f"Discount {code_used(subscription)} ({coupons.describe(discount)})",
                "amount": -discount_amount,
                "kind": "discount",
            }
        )
    credit_used = min(subscription.credit_balance, amount - discount_amount)
    if credit_used:
        lines.append(
            {"description": "Credit for unused time", "amount": -credit_used, "kind": "credit"}
        )
        Subscription.objects.filter(pk=subscription.pk).update(
            credit_balance=subscription.credit_balance - credit_used
        )
        subscription.credit_balance -= credit_used
    return _create(
        subscription,
        lines=lines,
        subtotal=amount,
        discount_amount=discount_amount + credit_used,
        period_start=period_start,
        period_end=period_end,
        billing_reason=billing_reason,
    )


def issue_period_invoice(*, subscription: Subscription, actor: User | None) -> Invoice:
    """Staff issue the current period's invoice of a live manual subscription now. Raises
    NotAuthorized (staff policy) and InvoiceStateInvalid."""
    authority.require(actor, "billing.invoice.issue")
    period_start, period_end = subscription.current_period_start, subscription.current_period_end
    if (
        subscription.billing_source != BillingSource.MANUAL
        or not period_start
        or not period_end
        or not subscription.is_live
    ):
        raise errors.InvoiceStateInvalid("Only a live manual subscription is invoiced here.")
    with transaction.atomic():
        invoice = create_period_invoice(
            subscription,
            period_start=period_start,
            period_end=period_end,
            billing_reason="subscription_cycle",
        )
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            resource=invoice,
            operation="invoice_issued",
            subscription_id=subscription.pk,
        )
    return invoice


def create_change_invoice(
    subscription: Subscription, *, lines: list[dict], subtotal: int, credit: int
) -> Invoice:
    """The invoice for a plan change's prorated difference (manual billing): ``lines`` are
    its items (adding up to ``subtotal``) and the credit for paid unused time (``credit``,
    shown as the invoice's discount); the tax line is added here."""
    return _create(
        subscription,
        lines=lines,
        subtotal=subtotal,
        discount_amount=credit,
        period_start=timezone.now(),
        period_end=subscription.current_period_end,
        billing_reason="subscription_update",
    )


def void_for_plan_change(
    *, invoice_id: int, subscription: Subscription, actor: User | None
) -> Invoice:
    """Cancel a period invoice nobody paid because a plan change replaces it (inside the
    change's transaction, the subscription locked): VOID, nothing due, and the credit it
    took from the subscription's balance given back."""
    invoice = lock_invoice(invoice_id)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.DRAFT) or invoice.amount_paid:
        raise errors.InvoiceStateInvalid("Only an unpaid invoice can be replaced.")
    credit_used = sum(
        -int(line.get("amount") or 0) for line in invoice.lines or [] if line_kind(line) == "credit"
    )
    old = invoice.status
    invoice.status, invoice.voided_at, invoice.amount_due = (InvoiceStatus.VOID, timezone.now(), 0)
    invoice.save()
    if credit_used:
        Subscription.objects.filter(pk=subscription.pk).update(
            credit_balance=F("credit_balance") + credit_used
        )
    timeline.add(
        subscription,
        EventType.INVOICE_VOIDED,
        f"Invoice {invoice.number} was cancelled: your plan change replaces it.",
        source=Source.CUSTOMER
        if actor and actor.pk == subscription.user_id
        else Source.STAFF
        if actor
        else Source.SYSTEM,
        actor=actor,
    )
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=invoice,
        old={"status": old},
        new={"status": "VOID"},
        operation="invoice_void",
        reason="replaced by a plan change",
        credit_returned=credit_used,
    )
    return invoice


def _create(
    subscription: Subscription,
    *,
    lines: list[dict],
    subtotal: int,
    discount_amount: int,
    period_start: datetime | None,
    period_end: datetime | None,
    billing_reason: str,
) -> Invoice:
    price = subscription.price
    assert price is not None  # a manual subscription is always created with its price
    decision = tax_for(subscription.user, product=subscription.plan.product)
    rate = decision.rate
    net = subtotal - discount_amount
    tax = round_minor(Decimal(net) * rate)
    if tax:
        lines = [*lines, {"description": decision.line_label(), "amount": tax, "kind": "tax"}]
    elif decision.reverse_charge:
        lines = [*lines, decision.reverse_charge_line()]
    total = net + tax
    now = timezone.now()
    invoice = Invoice.objects.create(
        number=next_number("INV"),
        user=subscription.user,
        subscription=subscription,
        status=InvoiceStatus.OPEN,
        billing_source=BillingSource.MANUAL,
        currency=price.currency,
        lines=lines,
        subtotal=subtotal,
        discount_amount=discount_amount,
        tax=tax,
        total=total,
        amount_due=total,
        period_start=period_start,
        period_end=period_end,
        due_date=_due_date(now),
        billing_reason=billing_reason,
        finalized_at=now,
    )
    Invoice.objects.filter(pk=invoice.pk).update(payment_reference=invoice.number)
    invoice.payment_reference = invoice.number
    timeline.add(
        subscription,
        EventType.INVOICE_CREATED,
        f"Invoice {invoice.number} for {format_money(total, invoice.currency)} "
        f"is due on {invoice.due_date:%d %B %Y}.",
        source=Source.SYSTEM,
        payload={"invoice": invoice.number},
    )
    if total == 0:
        settle_invoice(invoice, actor=None, paid_at=now, payment=None)
    return invoice


def email_new_invoice_on_commit(invoice: Invoice) -> None:
    """Queue the "new invoice" e-mail (billing.tasks.send_invoice_notice) with this change: it
    is sent after the commit, by the outbox, never for a change that rolled back."""
    if invoice.status != InvoiceStatus.OPEN:
        return
    outbox.enqueue("billing.tasks.send_invoice_notice", invoice.pk, "issued")


def finalize_invoice(*, invoice_id: int, actor: User | None) -> Invoice:
    authority.require(actor, "billing.invoice.finalize")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        require_manual(invoice)
        if invoice.status != InvoiceStatus.DRAFT:
            raise errors.InvoiceStateInvalid("Only a draft invoice can be finalised.")
        invoice.status, invoice.finalized_at = InvoiceStatus.OPEN, timezone.now()
        invoice.due_date = invoice.due_date or _due_date()
        invoice.save()
        audit.record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=invoice,
            old={"status": "DRAFT"},
            new={"status": "OPEN"},
            operation="finalize",
        )
    return invoice


def mark_invoice_paid(
    *,
    invoice_id: int,
    actor: User | None,
    reference: str = "",
    paid_at: datetime | None = None,
    amount: int | None = None,
) -> Invoice:
    """Staff record a bank transfer for a manual invoice: ``amount`` minor units received
    (None: all that is due) on ``paid_at`` (None: now) with the bank ``reference``.

    Less than is due is a part payment: a Payment row, ``amount_paid`` up and ``amount_due``
    down, the invoice still OPEN (no plan credits, no order fulfilment yet). The payment that
    covers the rest settles it: PAID, the period's credits granted once, a past-due
    subscription active again, an order's goods fulfilled. Safe to repeat: an invoice
    already paid, or a transfer whose reference is already recorded on it, is returned
    unchanged. Raises NotAuthorized / ApprovalRequired (staff policy, sized by the amount
    received), InvoiceStateInvalid and the payment refusals of ``record_bank_transfer``."""
    invoice = Invoice.objects.get(pk=invoice_id)
    authority.require(
        actor, "billing.invoice.mark_paid", amount=invoice.amount_due if amount is None else amount
    )
    return record_bank_transfer(
        invoice_id=invoice_id, actor=actor, reference=reference, paid_at=paid_at, amount=amount
    )


def void_invoice(*, invoice_id: int, actor: User | None, reason: str = "") -> Invoice:
    """Cancel a manual invoice nobody paid: VOID, nothing left due. ``reason`` goes into the
    audit row. Safe to repeat; raises InvoiceStateInvalid for a paid or a Stripe invoice."""
    authority.require(actor, "billing.invoice.void")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        require_manual(invoice)
        if invoice.status == InvoiceStatus.VOID:
            return invoice
        if invoice.status not in (
            InvoiceStatus.DRAFT,
            InvoiceStatus.OPEN,
            InvoiceStatus.UNCOLLECTIBLE,
        ):
            raise errors.InvoiceStateInvalid("A paid invoice cannot be voided; refund it.")
        old = invoice.status
        invoice.status, invoice.voided_at, invoice.amount_due = (
            InvoiceStatus.VOID,
            timezone.now(),
            0,
        )
        invoice.save()
        if invoice.subscription is not None:
            timeline.add(
                invoice.subscription,
                EventType.INVOICE_VOIDED,
                f"Invoice {invoice.number} was cancelled.",
                source=Source.STAFF if actor else Source.SYSTEM,
                actor=actor,
            )
        audit.record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=invoice,
            old={"status": old},
            new={"status": "VOID"},
            operation="invoice_void",
            reason=reason,
        )
    return invoice


def send_invoice(*, invoice_id: int, actor: User | None) -> Invoice:
    authority.require(actor, "billing.invoice.send")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise errors.InvoiceStateInvalid("Only an open invoice can be sent.")
        invoice.sent_at = timezone.now()
        invoice.save(update_fields=["sent_at", "updated_at"])
        email_new_invoice_on_commit(invoice)
        audit.record(
            actor=actor, action=AuditAction.OTHER, resource=invoice, operation="invoice_sent"
        )
    return invoice
