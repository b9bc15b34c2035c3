"""Subscription invoices: Stripe's mirrored, manual ones made here; payment grants credits.

Every paid subscription period grants the plan's credits exactly once: the credits
service's idempotency key is the invoice's id (Stripe's, or our number for manual ones), and
the grant happens in the same transaction that first marks the invoice paid.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
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
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.pricing import discount_total, round_minor
from billing.services import timeline
from billing.services.fulfilment import complete_paid_order
from billing.services.invoice_lines import line_kind
from billing.services.numbers import next_number
from billing.services.subscriptions.state import CREDIT_SOURCE_PLAN
from billing.services.timeline import EventType, Source
from billing.tax import tax_for
from core import audit
from core.models import AuditAction
from core.money import format_money
from core.system_config import get_config
from coupons import services as coupons
from coupons.models import Duration
from credits.services import grant_credits

logger = logging.getLogger(__name__)

S = SubscriptionStatus
PERIOD_REASONS = ("subscription_create", "subscription_cycle")
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


def _due_date(now=None):
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
    return period_start < start + relativedelta(months=months)


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
    amount = price.unit_amount * subscription.quantity
    lines = [
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
    if discount_applies(subscription, period_start=period_start, billing_reason=billing_reason):
        discount_amount = discount_total(subscription.discount, amount)
        lines.append(
            {
                "description": f"Discount {subscription.discount.code} "
                f"({coupons.describe(subscription.discount)})",
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
    if (
        subscription.billing_source != BillingSource.MANUAL
        or not subscription.current_period_end
        or not subscription.is_live
    ):
        raise errors.InvoiceStateInvalid("Only a live manual subscription is invoiced here.")
    with transaction.atomic():
        invoice = create_period_invoice(
            subscription,
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
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
    invoice = _lock(invoice_id)
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
    subscription, *, lines, subtotal, discount_amount, period_start, period_end, billing_reason
) -> Invoice:
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
        currency=subscription.price.currency,
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
        _settle(invoice, actor=None, paid_at=now, payment=None)
    return invoice


def email_new_invoice_on_commit(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.OPEN:
        return
    timeline.email_on_commit(
        user=invoice.user,
        subject=f"Invoice {invoice.number}",
        body=(
            f"Your invoice {invoice.number} for "
            f"{format_money(invoice.total, invoice.currency)} is due "
            f"{f'on {invoice.due_date:%d %B %Y}' if invoice.due_date else 'on receipt'}.\n"
            f"{get_config('billing.bank_transfer_instructions')}\n"
            f"Payment reference: {invoice.payment_reference}\n"
            f"{settings.SITE_URL}/billing/invoices/{invoice.number}/"
        ),
    )


def _lock(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def _manual_only(invoice: Invoice) -> None:
    if invoice.billing_source == BillingSource.STRIPE:
        raise errors.InvoiceStateInvalid("Stripe invoices are managed in Stripe.")


def finalize_invoice(*, invoice_id: int, actor: User | None) -> Invoice:
    authority.require(actor, "billing.invoice.finalize")
    with transaction.atomic():
        invoice = _lock(invoice_id)
        _manual_only(invoice)
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


def record_bank_transfer(
    *,
    invoice_id: int,
    actor: User | None,
    reference: str = "",
    paid_at: datetime | None = None,
    amount: int | None = None,
) -> Invoice:
    """``mark_invoice_paid`` once the caller has checked the staff policy (it, or
    ``payments.mark_paid_manually`` for an order's invoice). Locks the invoice's order first
    (as paying or cancelling an order does), then the invoice. Raises PaymentAmountInvalid
    (zero, negative, more than is due), PaymentDateInvalid (in the future),
    PaymentReferenceRequired (a part payment without one), PaymentReferenceUsed (the
    reference is another invoice's payment), InvoiceStateInvalid and OrderNotPayable."""
    reference = (reference or "").strip()
    now = timezone.now()
    if paid_at is not None and paid_at > now:
        raise errors.PaymentDateInvalid(field="paid_at")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise errors.PaymentAmountInvalid(field="amount")
    order_id = Invoice.objects.filter(pk=invoice_id).values_list("order_id", flat=True).get()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id) if order_id else None
        invoice = _lock(invoice_id)
        if _already_paid(invoice, order) or _transfer_recorded(invoice, reference):
            return invoice
        due = invoice.amount_due
        amount = due if amount is None else amount
        if (amount <= 0 < due) or amount < 0 or amount > due:
            raise errors.PaymentAmountInvalid(
                f"The amount received must be more than zero and at most the "
                f"{format_money(due, invoice.currency)} due.",
                field="amount",
                due=due,
            )
        if amount != due and not reference:
            raise errors.PaymentReferenceRequired(field="reference")
        paid_on = paid_at or now
        payment = (
            _transfer_payment(
                invoice, order, amount=amount, reference=reference, paid_on=paid_on, actor=actor
            )
            if amount > 0
            else None
        )
        if amount != due:
            _record_part_payment(invoice, payment, amount=amount, actor=actor)
        elif order is not None:
            complete_paid_order(
                order, now=paid_on, actor=actor, provider=BillingSource.MANUAL, payment=payment
            )
            invoice.refresh_from_db()
        else:
            _settle(invoice, actor=actor, paid_at=paid_on, payment=payment)
            audit.record(
                actor=actor,
                action=AuditAction.STATUS_CHANGE,
                resource=invoice,
                old={"status": "OPEN"},
                new={"status": "PAID"},
                operation="invoice_paid",
                payment_id=getattr(payment, "pk", None),
            )
    return invoice


def _already_paid(invoice: Invoice, order: Order | None) -> bool:
    """True when the transfer has nothing left to pay; raises when the invoice (or its
    order) cannot take a bank transfer."""
    _manual_only(invoice)
    if invoice.status == InvoiceStatus.PAID or (
        order is not None
        and order.payment_status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    ):
        return True
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise errors.InvoiceStateInvalid("Only an open invoice can be marked paid.")
    if order is not None and (
        order.billing_source != BillingSource.MANUAL
        or order.status not in (OrderStatus.PENDING, OrderStatus.PROCESSING)
    ):
        raise errors.OrderNotPayable()
    return False


def _transfer_recorded(invoice: Invoice, reference: str) -> bool:
    """True when this transfer is recorded on the invoice already (a repeated submit);
    PaymentReferenceUsed when the reference is another invoice's payment."""
    if not reference:
        return False
    earlier = Payment.objects.filter(provider=BillingSource.MANUAL, provider_id=reference).first()
    if earlier is not None and earlier.invoice_id == invoice.pk:
        return True
    if earlier is not None:
        raise errors.PaymentReferenceUsed(field="reference")
    return False


def _transfer_payment(
    invoice: Invoice, order: Order | None, *, amount: int, reference: str, paid_on: datetime, actor
) -> Payment:
    earlier_count = invoice.payments.count()
    base = f"manual-{order.number if order else invoice.number}"
    return Payment.objects.create(
        user=invoice.user,
        invoice=invoice,
        order=order,
        provider=BillingSource.MANUAL,
        provider_id=reference or (f"{base}-{earlier_count + 1}" if earlier_count else base),
        amount=amount,
        currency=invoice.currency,
        status=Payment.Status.SUCCEEDED,
        paid_at=paid_on,
        method_type="bank_transfer",
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )


def _record_part_payment(invoice: Invoice, payment: Payment, *, amount: int, actor) -> None:
    old = {"amount_paid": invoice.amount_paid, "amount_due": invoice.amount_due}
    invoice.amount_paid += amount
    invoice.amount_due -= amount
    invoice.save(update_fields=["amount_paid", "amount_due", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        resource=invoice,
        old=old,
        new={"amount_paid": invoice.amount_paid, "amount_due": invoice.amount_due},
        operation="invoice_part_paid",
        payment_id=payment.pk,
        amount=amount,
        currency=invoice.currency,
    )


def _settle(invoice: Invoice, *, actor, paid_at, payment) -> None:
    invoice.status, invoice.paid_at = InvoiceStatus.PAID, paid_at
    invoice.amount_paid, invoice.amount_due = invoice.total, 0
    invoice.save()
    sub = invoice.subscription
    if sub is None:
        return
    sub = Subscription.objects.for_update().select_related("plan", "user").get(pk=sub.pk)
    timeline.add(
        sub,
        EventType.INVOICE_PAID,
        f"Invoice {invoice.number} was paid. Thank you.",
        source=Source.STAFF if actor else Source.SYSTEM,
        actor=actor,
        payload={"invoice": invoice.number},
    )
    grant_period_credits(invoice=invoice, subscription=sub)
    if (
        sub.status in (S.PAST_DUE, S.UNPAID)
        and not sub.invoices.filter(
            status=InvoiceStatus.OPEN, due_date__lt=timezone.now().date()
        ).exists()
    ):
        old = sub.status
        sub.status, sub.past_due_since = S.ACTIVE, None
        sub.save(update_fields=["status", "past_due_since", "updated_at"])
        timeline.add(
            sub,
            EventType.STATUS_CHANGED,
            "Your subscription is active again.",
            source=Source.SYSTEM,
            payload={"old": old},
        )


def grant_period_credits(*, invoice: Invoice, subscription: Subscription) -> None:
    """The plan's credits for the period ``invoice`` paid, once (key: the invoice id),
    expiring at the period end. Trial ($0) and plan-change invoices grant nothing here."""
    amount = subscription.plan.credits_per_period
    if not amount or invoice.billing_reason not in PERIOD_REASONS:
        return
    if (
        invoice.total == 0
        and subscription.trial_end
        and invoice.period_end
        and invoice.period_end <= subscription.trial_end + timedelta(minutes=1)
    ):
        return  # Stripe's $0 invoice for a trial: the trial allowance covers it
    expires = invoice.period_end
    if expires is None or expires <= timezone.now():
        logger.warning("Invoice %s paid after its period ended; no plan credits", invoice.pk)
        return
    key = f"plan-credits-{invoice.stripe_invoice_id or invoice.number}"
    grant_credits(
        user=subscription.user,
        amount=amount,
        source=CREDIT_SOURCE_PLAN,
        expires_at=expires,
        idempotency_key=key,
        details={
            "subscription": subscription.pk,
            "invoice": invoice.number,
            "plan": subscription.plan.slug,
        },
        source_ref=invoice.number,
    )
    timeline.add(
        subscription,
        EventType.CREDITS_GRANTED,
        f"{amount:,} credits added, valid until {expires:%d %B %Y}.",
        source=Source.SYSTEM,
        payload={"invoice": invoice.number, "amount": amount},
    )


def void_invoice(*, invoice_id: int, actor: User | None, reason: str = "") -> Invoice:
    """Cancel a manual invoice nobody paid: VOID, nothing left due. ``reason`` goes into the
    audit row. Safe to repeat; raises InvoiceStateInvalid for a paid or a Stripe invoice."""
    authority.require(actor, "billing.invoice.void")
    with transaction.atomic():
        invoice = _lock(invoice_id)
        _manual_only(invoice)
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
        if invoice.subscription_id:
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
        invoice = _lock(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise errors.InvoiceStateInvalid("Only an open invoice can be sent.")
        invoice.sent_at = timezone.now()
        invoice.save(update_fields=["sent_at", "updated_at"])
        email_new_invoice_on_commit(invoice)
        audit.record(
            actor=actor, action=AuditAction.OTHER, resource=invoice, operation="invoice_sent"
        )
    return invoice
