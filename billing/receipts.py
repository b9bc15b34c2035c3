"""Receipts: every succeeded payment gets a receipt number, a page, a PDF and an e-mail, and
every succeeded refund an e-mail; the e-mails go through the outbox with the change that
caused them, branded from SystemConfig (business name, address, tax number, logo).

The payment and refund rows are saved by several services (bank transfers recorded by staff,
Stripe's events, refunds); the signals below see each save in its own transaction, so the
e-mail is queued if and only if the payment or refund committed, once (a conditional UPDATE
of ``receipt_number`` / ``notice_queued_at`` decides).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch
from django.db.models.signals import post_save
from django.utils import timezone

from billing import errors
from billing.models import Payment, Refund
from billing.services.invoice_lines import line_kind
from core import outbox
from core.ids import parse_id
from core.system_config import get_config


def receipt_number_for(payment: Payment) -> str:
    moment = payment.paid_at or payment.created_at or timezone.now()
    return f"RCT-{moment:%Y}-{payment.pk:06d}"


def branding() -> dict:
    """What the business prints on receipts, invoices and billing e-mails."""
    logo = (get_config("business_logo_url") or "").strip()
    return {
        "business_name": get_config("business_name"),
        "business_address": get_config("business_address"),
        "business_tax_id": get_config("business_tax_id"),
        "support_email": get_config("support_email"),
        # A path on this site only: nothing a page loads comes from another host.
        "business_logo_url": logo if logo.startswith("/") and not logo.startswith("//") else "",
        "site_url": settings.SITE_URL,
    }


def _payment_saved(sender, instance: Payment, **kwargs) -> None:
    if instance.status != Payment.Status.SUCCEEDED or instance.receipt_number:
        return
    number = receipt_number_for(instance)
    if Payment.objects.filter(pk=instance.pk, receipt_number__isnull=True).update(
        receipt_number=number
    ):
        instance.receipt_number = number
        outbox.enqueue("billing.tasks.send_payment_receipt", instance.pk)


def _refund_saved(sender, instance: Refund, **kwargs) -> None:
    if instance.status != Refund.Status.SUCCEEDED or instance.notice_queued_at:
        return
    now = timezone.now()
    if Refund.objects.filter(pk=instance.pk, notice_queued_at__isnull=True).update(
        notice_queued_at=now
    ):
        instance.notice_queued_at = now
        outbox.enqueue("billing.tasks.send_refund_notice", instance.pk)


def connect() -> None:
    post_save.connect(_payment_saved, sender=Payment, dispatch_uid="billing.receipt")
    post_save.connect(_refund_saved, sender=Refund, dispatch_uid="billing.refund_notice")


# --- reads ---------------------------------------------------------------------------------


def payments_for_user(*, user):
    """The customer's succeeded payments, newest first, with what each paid and its refunds
    loaded with the page."""
    return (
        Payment.objects.filter(user=user, status=Payment.Status.SUCCEEDED)
        .select_related("order", "invoice")
        .prefetch_related(
            Prefetch("refunds", queryset=Refund.objects.order_by("created_at")),
            Prefetch(
                "order__refunds",
                queryset=Refund.objects.filter(payment__isnull=True).order_by("created_at"),
            ),
        )
        .order_by("-paid_at", "-id")
    )


def payment_for_user(*, user, payment_id) -> Payment:
    """The user's own payment or PaymentNotFound (404): never another's."""
    pk = parse_id(payment_id)
    payment = payments_for_user(user=user).filter(pk=pk).first() if pk else None
    if payment is None:
        raise errors.PaymentNotFound()
    return payment


def refunds_of(payment: Payment) -> list[Refund]:
    """The refunds of ``payment``: its own, and an order's refunds recorded without a
    payment (a bank-transfer order's)."""
    own = list(payment.refunds.all())
    if payment.order is not None:
        own += [r for r in payment.order.refunds.all() if r.payment_id is None]
    return own


def paid_for(payment: Payment) -> dict[str, str]:
    """What the payment paid: ``{"kind": "order" | "invoice", "number", "url"}``."""
    order = payment.order
    if order is not None:
        return {"kind": "order", "number": order.number, "url": f"/orders/{order.number}/"}
    invoice = payment.invoice
    if invoice is not None:
        return {
            "kind": "invoice",
            "number": invoice.number,
            "url": f"/billing/invoices/{invoice.number}/",
        }
    return {"kind": "", "number": "", "url": ""}


def method_label(payment: Payment) -> str:
    if payment.method_brand or payment.method_last4:
        brand = (payment.method_brand or "card").title()
        return f"{brand} ending {payment.method_last4}" if payment.method_last4 else brand
    if payment.method_type == "bank_transfer" or payment.provider == "manual":
        return "Bank transfer"
    return (payment.method_type or "Card").replace("_", " ").capitalize()


def document_of(payment: Payment):
    """The order or invoice the payment settled (its lines, tax and totals)."""
    return payment.invoice if payment.invoice_id else payment.order


def receipt_context(payment: Payment) -> dict:
    document = document_of(payment)
    refunds = [r for r in refunds_of(payment) if r.status == Refund.Status.SUCCEEDED]
    return {
        "payment": payment,
        "paid_for": paid_for(payment),
        "document": document,
        "lines": _lines(document),
        "tax_rates": _tax_rates(document),
        "method": method_label(payment),
        "refunds": refunds,
        "refunded": sum(r.amount for r in refunds),
        **branding(),
    }


def _lines(document) -> list[dict]:
    if document is None:
        return []
    if hasattr(document, "items"):  # an order
        return [
            {"description": item.description, "quantity": item.quantity, "amount": item.line_total}
            for item in document.items.all()
        ]
    return [
        {
            "description": line.get("description", ""),
            "quantity": line.get("quantity", ""),
            "amount": int(line.get("amount") or 0),
        }
        for line in document.lines or []
        if line_kind(line) != "tax"
    ]


def _tax_rates(document) -> str:
    """The rates the document's tax was charged at, as people read them ("20%")."""
    if document is None or not document.tax:
        return ""
    rates = set()
    if hasattr(document, "items"):
        rates = {Decimal(item.tax_rate) for item in document.items.all() if item.tax}
    else:
        for line in document.lines or []:
            if "tax_rate" in line and line.get("tax"):
                rates.add(Decimal(str(line["tax_rate"])))
            elif str(line.get("description", "")).startswith("Tax ("):
                return str(line["description"])[5:-1]
    return ", ".join(f"{(rate * 100).normalize():f}%" for rate in sorted(rates))
