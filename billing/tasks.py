"""Celery tasks: take ids, call one service, safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing import receipts
from billing.models import (
    CreditNote,
    Invoice,
    InvoiceStatus,
    Order,
    Payment,
    Refund,
    RefundReason,
    Subscription,
)
from billing.services import refunds
from billing.services.subscriptions import renewal
from billing.stripe import client as stripe_client
from billing.stripe import inbox, reconciliation, sync
from core import outbox
from core.system_config import get_config


@shared_task(name="billing.tasks.process_webhook_event", acks_late=True)
def process_webhook_event(event_id: int) -> str:
    # Failures are recorded on the row and retried by retry_webhook_events with backoff,
    # not by Celery's own retry, so the bound and the error live in one place: the inbox.
    return inbox.process_event(event_id=event_id)


@shared_task(name="billing.tasks.retry_webhook_events")
def retry_webhook_events() -> int:
    ids = inbox.due_event_ids()
    for event_id in ids:
        inbox.process_event(event_id=event_id)
    return len(ids)


@shared_task(name="billing.tasks.process_stripe_refund")
def process_stripe_refund(refund_id: int) -> str:
    try:
        return refunds.submit_stripe_refund(refund_id=refund_id).status
    except refunds.RETRYABLE:
        # Network or Stripe 5xx: the refund stays PENDING; retry_pending_refunds resends it
        # with the same idempotency key.
        return "retry_later"


@shared_task(name="billing.tasks.retry_pending_refunds")
def retry_pending_refunds() -> int:
    return refunds.retry_pending_refunds()


@shared_task(name="billing.tasks.renew_manual_subscriptions")
def renew_manual_subscriptions() -> dict:
    return renewal.renew_manual_subscriptions()


@shared_task(name="billing.tasks.sync_stripe_catalog")
def sync_stripe_catalog() -> dict:
    if not stripe_client.is_configured():
        return {"skipped": "stripe not configured"}
    return sync.sync_catalog().as_dict()


@shared_task(name="billing.tasks.reconcile_stripe")
def reconcile_stripe() -> dict:
    if not stripe_client.is_configured():
        return {"skipped": "stripe not configured"}
    return reconciliation.reconcile().as_dict()


def _send_branded(*, template: str, subject: str, to: str, context: dict) -> None:
    message = EmailMultiAlternatives(
        subject,
        render_to_string(f"billing/email/{template}.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [to],
    )
    message.attach_alternative(
        render_to_string(f"billing/email/{template}.html", context), "text/html"
    )
    message.send()


@shared_task(
    name="billing.tasks.send_payment_receipt",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_payment_receipt(payment_id: int) -> bool:
    """The "payment received" e-mail with the receipt, once per queued message."""
    payment = (
        Payment.objects.select_related("user", "order", "invoice").filter(pk=payment_id).first()
    )
    if payment is None or payment.user.deleted_at is not None or not payment.user.email:
        return False
    context = receipts.receipt_context(payment)
    _send_branded(
        template="payment_received",
        to=payment.user.email,
        context=context,
        subject=f"Payment received: receipt {payment.receipt_number}",
    )
    return True


@shared_task(
    name="billing.tasks.send_refund_notice",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_refund_notice(refund_id: int) -> bool:
    """The "refund issued" e-mail, once per queued message."""
    refund = (
        Refund.objects.select_related("order__user", "invoice__user", "payment")
        .filter(pk=refund_id)
        .first()
    )
    if refund is None:
        return False
    # A one-time order's refund, or a subscription invoice's.
    document: Order | Invoice
    if refund.order is not None:
        kind, document = "order", refund.order
    elif refund.invoice is not None:
        kind, document = "invoice", refund.invoice
    else:
        return False
    user = document.user
    if user.deleted_at is not None or not user.email:
        return False
    url = (
        f"/orders/{document.number}/"
        if kind == "order"
        else reverse("billing:subscription-invoice", args=[document.number])
    )
    _send_branded(
        template="refund_issued",
        to=user.email,
        subject=f"Refund issued for {kind} {document.number}",
        context={
            "refund": refund,
            "kind": kind,
            "document": document,
            "document_path": url,
            **receipts.branding(),
        },
    )
    return True


@shared_task(
    name="billing.tasks.send_credit_note_notice",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_credit_note_notice(credit_note_id: int) -> bool:
    """The "credit note issued" e-mail, once per credit note: the note's row, locked while
    the message goes out, records when it was sent, so a second run (a copy of the message,
    or any other call) sends nothing; a failed send leaves it unsent for the retry."""
    with transaction.atomic():
        note = (
            CreditNote.objects.select_for_update(of=("self",))
            .select_related("user", "invoice", "refund")
            .filter(pk=credit_note_id, notice_sent_at__isnull=True)
            .first()
        )
        if note is None or note.user.deleted_at is not None or not note.user.email:
            return False
        _send_branded(
            template="credit_note_issued",
            to=note.user.email,
            subject=f"Credit note {note.number} for invoice {note.invoice.number}",
            context={
                "note": note,
                "invoice": note.invoice,
                "disputed": note.reason == RefundReason.DISPUTED,
                "note_path": reverse("billing:credit-note", args=[note.number]),
                "invoice_path": reverse("billing:subscription-invoice", args=[note.invoice.number]),
                **receipts.branding(),
            },
        )
        CreditNote.objects.filter(pk=note.pk).update(notice_sent_at=timezone.now())
    return True


INVOICE_NOTICES = {
    "issued": ("invoice_issued", "Invoice {number}"),
    "reminder": ("invoice_reminder", "Reminder: invoice {number} is due"),
}


@shared_task(
    name="billing.tasks.send_invoice_notice",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_invoice_notice(invoice_id: int, kind: str) -> bool:
    """The "new invoice" (``kind="issued"``) or "invoice due soon" (``"reminder"``) e-mail of
    a manually billed invoice, once per queued message; none once it is no longer open."""
    template, subject = INVOICE_NOTICES[kind]
    invoice = Invoice.objects.select_related("user").filter(pk=invoice_id).first()
    if invoice is None or invoice.status != InvoiceStatus.OPEN:
        return False
    user = invoice.user
    if user.deleted_at is not None or not user.email:
        return False
    _send_branded(
        template=template,
        to=user.email,
        subject=subject.format(number=invoice.number),
        context={
            "invoice": invoice,
            "invoice_path": reverse("billing:subscription-invoice", args=[invoice.number]),
            "bank_transfer_instructions": get_config("billing.bank_transfer_instructions"),
            **receipts.branding(),
        },
    )
    return True


@shared_task(
    name="billing.tasks.send_payment_failed_notice",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_payment_failed_notice(subscription_id: int) -> bool:
    """The "payment failed" e-mail of a subscription that went past due, once per queued
    message."""
    subscription = (
        Subscription.objects.select_related("user", "plan").filter(pk=subscription_id).first()
    )
    if subscription is None or subscription.user.deleted_at is not None:
        return False
    if not subscription.user.email:
        return False
    _send_branded(
        template="payment_failed",
        to=subscription.user.email,
        subject="Your payment failed",
        context={"subscription": subscription, **receipts.branding()},
    )
    return True
