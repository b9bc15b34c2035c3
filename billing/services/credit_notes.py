"""What a subscription invoice's refund or dispute leads to: its credit note (and the
customer's "credit note issued" e-mail, queued through the outbox in the same transaction),
the plan credits taken back by the ``billing.refund_credit_clawback`` policy, the
subscription's timeline, and ``billing.signals.invoice_refunded`` for other apps."""

import logging

from django.db.models import Sum

from billing.models import CreditNote, Invoice, Refund, RefundReason, SubscriptionEvent
from billing.services import timeline
from billing.services.numbers import next_number
from billing.signals import invoice_refunded
from core import audit, outbox
from core.models import AuditAction
from core.money import format_money
from core.system_config import get_config
from credits.corrections import claw_back_grant
from credits.errors import GrantNotFound
from credits.models import CreditGrant

logger = logging.getLogger(__name__)

CLAWBACK_POLICIES = ("none", "proportional", "all")


def refund_money(refund: Refund) -> str:
    return format_money(refund.amount, refund.currency)


def after_invoice_refund(invoice: Invoice, refund: Refund) -> None:
    """Credit note, plan credits taken back by the policy, timeline and ticket notes."""
    policy = get_config("billing.refund_credit_clawback")
    clawed, unrecovered = _claw_back_plan_credits(invoice, refund, policy)
    note = CreditNote.objects.create(
        number=next_number("CN"),
        user=invoice.user,
        invoice=invoice,
        refund=refund,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
        credits_clawed_back=clawed,
        credits_unrecovered=unrecovered,
        clawback_policy=policy,
    )
    # The customer's "credit note issued" e-mail, queued with the note (once per note).
    outbox.enqueue("billing.tasks.send_credit_note_notice", note.pk)
    disputed = refund.reason == RefundReason.DISPUTED
    what = "disputed" if disputed else "refunded"
    words = (
        f"{refund_money(refund)} of invoice {invoice.number} was {what} "
        f"(credit note {note.number})."
    )
    if clawed:
        words += f" {clawed:,} plan credits were taken back."
    staff = words
    if unrecovered:
        staff += (
            f" {unrecovered:,} more credits ({policy} policy) were already spent and "
            "could not be taken back."
        )
        logger.warning(
            "Credit note %s: %s plan credits could not be taken back", note.number, unrecovered
        )
        audit.record(
            actor=None,
            action=AuditAction.OTHER,
            resource=note,
            operation="credits_unrecovered",
            credits=unrecovered,
            policy=policy,
        )
    tell(invoice, refund, staff, customer_words=words, disputed=disputed)


def tell(
    invoice: Invoice,
    refund: Refund,
    staff_words: str,
    *,
    customer_words: str,
    disputed: bool = False,
) -> None:
    """The subscription's timeline (customer words), and ``invoice_refunded`` for other
    apps (support notes the staff words on the customer's open tickets)."""
    if invoice.subscription is not None:
        timeline.add(
            invoice.subscription,
            SubscriptionEvent.Type.DISPUTED if disputed else SubscriptionEvent.Type.REFUNDED,
            customer_words,
            source=SubscriptionEvent.Source.STAFF
            if refund.requested_by_id
            else SubscriptionEvent.Source.STRIPE,
            payload={"invoice": invoice.number, "refund": refund.pk},
            actor=refund.requested_by,
        )
    invoice_refunded.send(
        sender=Invoice, invoice=invoice, refund=refund, staff_words=staff_words, disputed=disputed
    )


def _claw_back_plan_credits(invoice: Invoice, refund: Refund, policy: str) -> tuple[int, int]:
    """(credits taken back, credits the policy wanted that were already spent)."""
    if policy not in CLAWBACK_POLICIES or policy == "none" or not invoice.subscription_id:
        return 0, 0
    key = f"plan-credits-{invoice.stripe_invoice_id or invoice.number}"
    lot = CreditGrant.objects.filter(user_id=invoice.user_id, idempotency_key=key).first()
    if lot is None:
        return 0, 0
    if policy == "all":
        # Everything the period granted, less what earlier refunds of it already took.
        taken_before = (
            CreditNote.objects.filter(invoice=invoice).aggregate(total=Sum("credits_clawed_back"))[
                "total"
            ]
            or 0
        )
        wanted = max(0, lot.amount - taken_before)
    else:
        wanted = lot.amount * refund.amount // max(invoice.amount_paid, 1)
    if wanted <= 0:
        return 0, 0
    try:
        row = claw_back_grant(
            user=invoice.user,
            grant_idempotency_key=key,
            amount=wanted,
            reason=f"Refund of invoice {invoice.number}",
            actor=None,
            idempotency_key=f"refund-{refund.pk}-plan-credits",
        )
    except GrantNotFound:
        return 0, wanted
    taken = -row.amount if row is not None else 0
    return taken, wanted - taken
