"""Stripe invoice payments: which PaymentIntent and charge paid a subscription invoice.

Since API 2025-03-31 an invoice names neither its PaymentIntent nor its charge: they are its
``payments`` (InvoicePayment objects, listed by ``/v1/invoice_payments``). Recording them on
our Payment row lets every later event about the charge (refunds, disputes) find the invoice.
Stripe is read before any row lock is taken (``stripe_refs``), then the Payment is written
under the invoice's lock (``record``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import Q

from billing.models import BillingSource, Invoice, Payment
from billing.stripe import client as stripe_client
from billing.stripe import mirror as stripe_mirror

logger = logging.getLogger(__name__)


def object_id(value: dict[str, Any] | str | None) -> str:
    """The id of a Stripe object or of a reference to one ('' for none)."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def stripe_refs(invoice_obj: dict[str, Any]) -> dict[str, str]:
    """{payment_intent, charge, type, brand, last4} of the payment that paid ``invoice_obj``
    (empty strings where unknown). Calls Stripe: never while holding a row lock."""
    refs = {"payment_intent": "", "charge": "", "type": "", "brand": "", "last4": ""}
    listed = (invoice_obj.get("payments") or {}).get("data")
    if listed is None and stripe_client.is_configured() and invoice_obj.get("id"):
        listed = stripe_client.list_invoice_payments(invoice=invoice_obj["id"])
    paid = [p for p in listed or [] if p.get("status") == "paid"] or list(listed or [])
    for entry in paid:
        payment = entry.get("payment") or {}
        refs["payment_intent"] = refs["payment_intent"] or object_id(payment.get("payment_intent"))
        refs["charge"] = refs["charge"] or object_id(payment.get("charge"))
    # Older API versions name them on the invoice itself.
    refs["payment_intent"] = refs["payment_intent"] or object_id(invoice_obj.get("payment_intent"))
    refs["charge"] = refs["charge"] or object_id(invoice_obj.get("charge"))
    if refs["payment_intent"] and stripe_client.is_configured():
        intent = stripe_client.retrieve_payment_intent(
            refs["payment_intent"], expand=["latest_charge"]
        )
        charge = intent.get("latest_charge")
        if isinstance(charge, dict):
            stripe_mirror.mirror(charge)
        stripe_mirror.mirror({**intent, "latest_charge": object_id(charge) or None})
        if isinstance(charge, dict):
            refs["charge"] = refs["charge"] or charge.get("id") or ""
            details = charge.get("payment_method_details") or {}
            card = details.get(details.get("type") or "", {}) or {}
            refs.update(
                type=details.get("type") or "",
                brand=card.get("brand") or "",
                last4=card.get("last4") or "",
            )
        elif charge:
            refs["charge"] = refs["charge"] or charge
    return refs


def record(*, invoice: Invoice, refs: dict[str, str], paid_at: datetime) -> Payment | None:
    """Our Payment for a paid Stripe invoice (created once; missing Stripe ids filled in on a
    later delivery). Call with the invoice row locked."""
    if invoice.amount_paid <= 0:
        return None
    payment = Payment.objects.filter(
        invoice=invoice, provider=BillingSource.STRIPE, status=Payment.Status.SUCCEEDED
    ).first()
    values = {
        "stripe_payment_intent_id": refs.get("payment_intent") or "",
        "stripe_charge_id": refs.get("charge") or "",
        "method_type": refs.get("type") or "",
        "method_brand": refs.get("brand") or "",
        "method_last4": refs.get("last4") or "",
    }
    if payment is None:
        return Payment.objects.create(
            user=invoice.user,
            invoice=invoice,
            provider=BillingSource.STRIPE,
            provider_id=values["stripe_payment_intent_id"] or invoice.stripe_invoice_id or "",
            amount=invoice.amount_paid,
            currency=invoice.currency,
            paid_at=paid_at,
            status=Payment.Status.SUCCEEDED,
            **values,
        )
    changed = {
        name: value for name, value in values.items() if value and not getattr(payment, name)
    }
    if changed:
        for name, value in changed.items():
            setattr(payment, name, value)
        payment.save(update_fields=[*changed, "updated_at"])
    return payment


def find(*, charge: str = "", payment_intent: str = "") -> Payment | None:
    """The invoice payment a Stripe charge or PaymentIntent belongs to, if we recorded it."""
    if not charge and not payment_intent:
        return None
    match = Q()
    if charge:
        match |= Q(stripe_charge_id=charge)
    if payment_intent:
        match |= Q(stripe_payment_intent_id=payment_intent)
    return (
        Payment.objects.filter(match, invoice__isnull=False, provider=BillingSource.STRIPE)
        .select_related("invoice")
        .first()
    )
