"""The customer's printable credit note (issued by a refund or dispute of an invoice)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from billing.models import CreditNote
from core.system_config import get_config


@login_required
def credit_note_page(request, number):
    note = (
        CreditNote.objects.select_related("invoice", "user", "refund")
        .filter(user=request.user, number=number)
        .first()
    )
    if note is None:
        raise Http404("No such credit note.")
    return render(
        request,
        "billing/credit_note.html",
        {
            "note": note,
            "invoice": note.invoice,
            "business_name": get_config("business_name"),
            "business_address": get_config("business_address"),
            "business_tax_id": get_config("business_tax_id"),
        },
    )
