"""A bank transfer received for a manual invoice: the checks, the Payment row, a part
payment, and the settlement (PAID, the period's credits, a past-due subscription active
again, an order's goods fulfilled)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

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
from billing.services import timeline
from billing.services.fulfilment import complete_paid_order, verify_subscriber_reviews
from billing.services.period_credits import grant_period_credits
from billing.services.timeline import EventType, Source
from core import audit
from core.models import AuditAction
from core.money import format_money

S = SubscriptionStatus


def lock_invoice(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def require_manual(invoice: Invoice) -> None:
    if invoice.billing_source == BillingSource.STRIPE:
        raise errors.InvoiceStateInvalid("Stripe invoices are managed in Stripe.")


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
        invoice = lock_invoice(invoice_id)
        if _already_paid(invoice, order) or _transfer_recorded(invoice, reference):
            return invoice
        due = invoice.amount_due
        amount = _checked_amount(invoice, amount, reference)
        paid_on = paid_at or now
        payment = (
            _transfer_payment(
                invoice, order, amount=amount, reference=reference, paid_on=paid_on, actor=actor
            )
            if amount > 0
            else None
        )
        if amount != due:
            # A part payment is more than zero (_checked_amount), so it has its Payment.
            assert payment is not None
            _record_part_payment(invoice, payment, amount=amount, actor=actor)
        else:
            _pay_in_full(invoice, order, payment, paid_on=paid_on, actor=actor)
    return invoice


def _checked_amount(invoice: Invoice, amount: int | None, reference: str) -> int:
    """The amount received (None: all that is due); raises PaymentAmountInvalid for zero,
    a negative amount or more than is due, PaymentReferenceRequired for a part payment
    without a reference."""
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
    return amount


def _pay_in_full(
    invoice: Invoice,
    order: Order | None,
    payment: Payment | None,
    *,
    paid_on: datetime,
    actor: User | None,
) -> None:
    """The transfer covers all that is due: an order's goods are fulfilled (which settles its
    invoice), a subscription's invoice is settled."""
    if order is not None:
        complete_paid_order(
            order, now=paid_on, actor=actor, provider=BillingSource.MANUAL, payment=payment
        )
        invoice.refresh_from_db()
        return
    settle_invoice(invoice, actor=actor, paid_at=paid_on, payment=payment)
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=invoice,
        old={"status": "OPEN"},
        new={"status": "PAID"},
        operation="invoice_paid",
        payment_id=getattr(payment, "pk", None),
    )


def _already_paid(invoice: Invoice, order: Order | None) -> bool:
    """True when the transfer has nothing left to pay; raises when the invoice (or its
    order) cannot take a bank transfer."""
    require_manual(invoice)
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
    invoice: Invoice,
    order: Order | None,
    *,
    amount: int,
    reference: str,
    paid_on: datetime,
    actor: User | None,
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


def _record_part_payment(
    invoice: Invoice, payment: Payment, *, amount: int, actor: User | None
) -> None:
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


def settle_invoice(
    invoice: Invoice, *, actor: User | None, paid_at: datetime, payment: Payment | None
) -> None:
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
    verify_subscriber_reviews(invoice=invoice, subscription=sub)
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
