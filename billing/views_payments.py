"""The customer's payments: the list, each payment's receipt (page and PDF), saved cards."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import errors, receipts
from billing.models import CustomerBillingProfile
from billing.pdf import PdfUnavailable, render_receipt_pdf
from billing.services.subscriptions import stripe_adapter as subscription_service
from billing.stripe import client as stripe_client
from core.api import DomainError


@login_required
def payment_list(request):
    page = Paginator(receipts.payments_for_user(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "payment": payment,
            "paid_for": receipts.paid_for(payment),
            "method": receipts.method_label(payment),
            "refunds": receipts.refunds_of(payment),
        }
        for payment in page.object_list
    ]
    has_stripe_customer = CustomerBillingProfile.objects.filter(
        user=request.user, stripe_customer_id__gt=""
    ).exists()
    return render(
        request,
        "billing/payment_list.html",
        {
            "page": page,
            "rows": rows,
            "has_stripe_customer": has_stripe_customer,
            "stripe_available": stripe_client.is_configured(),
        },
    )


def _payment_or_404(request, pk):
    try:
        return receipts.payment_for_user(user=request.user, payment_id=pk)
    except errors.PaymentNotFound as exc:
        raise Http404("No such payment.") from exc


@login_required
def receipt_page(request, pk):
    payment = _payment_or_404(request, pk)
    return render(request, "billing/receipt.html", receipts.receipt_context(payment))


@login_required
def receipt_pdf(request, pk):
    payment = _payment_or_404(request, pk)
    try:
        data = render_receipt_pdf(receipts.receipt_context(payment))
    except PdfUnavailable as exc:
        raise Http404("PDF receipts are not available on this server.") from exc
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{payment.receipt_number}.pdf"'
    return response


@login_required
@require_POST
def saved_cards(request):
    """Stripe's billing portal, where the customer lists, adds, removes and chooses the
    default card."""
    try:
        url = subscription_service.billing_portal_url(
            user=request.user, return_url=request.build_absolute_uri(reverse("billing:payments"))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:payments")
    return HttpResponseRedirect(url)
