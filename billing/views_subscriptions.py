"""Subscription pages: subscribe, manage (cancel, resume, change plan, card), invoices."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import errors, selectors
from billing.context_processors import past_due
from billing.pdf import PdfUnavailable, render_invoice_pdf
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle, plan_change, state, stripe_adapter
from billing.stripe import client as stripe_client
from catalog.models import Plan
from core.api import DomainError
from core.ids import parse_id
from core.system_config import get_config

REFUND_POLICY = (
    "Cancelling now ends your plan immediately; the unused part of the current "
    "period is not refunded. Cancel at the period end to keep your plan until then."
)


def _plan_or_404(slug):
    plan = Plan.objects.filter(slug=slug, active=True).select_related("product").first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


@login_required
def subscribe_page(request, slug):
    plan = _plan_or_404(slug)
    interval = (
        request.POST.get("interval") if request.method == "POST" else request.GET.get("interval")
    ) or "month"
    if interval not in state.INTERVALS:
        interval = "month"
    price = plan.price_for_interval(interval)
    context = {
        "plan": plan,
        "interval": interval,
        "price": price,
        "by_invoice": lifecycle.sold_by(plan, price) == "manual",
        "trial_days": lifecycle.trial_days_for(user=request.user, plan=plan),
        "existing": lifecycle.live_subscription(user=request.user),
        **past_due(request),
        "stripe_available": stripe_client.is_configured(),
    }
    if request.method == "POST":
        try:
            result = lifecycle.subscribe(
                user=request.user,
                plan=plan,
                interval=interval,
                discount_code=request.POST.get("discount_code", "").strip() or None,
                success_url=request.build_absolute_uri(reverse("billing:subscription"))
                + "?checkout=success",
                cancel_url=request.build_absolute_uri(request.path) + f"?interval={interval}",
            )
        except DomainError as exc:
            # A code's refusal is shown beside the code field; any other above the form.
            beside_code = isinstance(exc, errors.DiscountError)
            context.update(
                form_error="" if beside_code else exc.message,
                code_error=exc.message if beside_code else "",
                form_error_code=exc.code,
                discount_code=request.POST.get("discount_code", ""),
            )
            return render(request, "billing/subscribe.html", context, status=400)
        if result.redirect_url:
            return HttpResponseRedirect(result.redirect_url)
        messages.success(request, f"You are now subscribed to {plan.name}.")
        return redirect("billing:subscription")
    return render(request, "billing/subscribe.html", context)


@login_required
def subscription_page(request):
    subscriptions = list(selectors.subscriptions_for_user(user=request.user)[:10])
    current = next((s for s in subscriptions if s.is_live), None)
    return render(
        request,
        "billing/subscription.html",
        {
            **past_due(request),
            "current": current,
            "others": [s for s in subscriptions if s is not current],
            "events": current.events.all()[:30] if current else [],
            "invoices": selectors.invoices_for_user(user=request.user).filter(
                subscription__isnull=False
            )[:5],
            "refund_policy": REFUND_POLICY,
            "checkout_success": request.GET.get("checkout") == "success",
        },
    )


def _own(request, pk):
    try:
        return lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
    except errors.SubscriptionNotFound as exc:
        raise Http404("No such subscription.") from exc


def _action(request, fn, success):
    try:
        fn()
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:subscription")
    messages.success(request, success)
    return redirect("billing:subscription")


@login_required
@require_POST
def cancel_view(request, pk):
    subscription = _own(request, pk)
    at_end = request.POST.get("when") != "now"
    return _action(
        request,
        lambda: lifecycle.cancel(
            subscription=subscription, at_period_end=at_end, actor=request.user
        ),
        "Your subscription will end at the period end."
        if at_end
        else "Your subscription has been cancelled.",
    )


@login_required
@require_POST
def resume_view(request, pk):
    subscription = _own(request, pk)
    return _action(
        request,
        lambda: lifecycle.resume(subscription=subscription, actor=request.user),
        "Your subscription will renew as usual.",
    )


@login_required
@require_POST
def payment_method_view(request, pk):
    _own(request, pk)
    try:
        url = stripe_adapter.billing_portal_url(
            user=request.user,
            return_url=request.build_absolute_uri(reverse("billing:subscription")),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:subscription")
    return HttpResponseRedirect(url)


@login_required
def change_plan_view(request, pk):
    subscription = _own(request, pk)
    source = request.POST if request.method == "POST" else request.GET
    plans, elsewhere = [], []
    for plan in (
        Plan.objects.filter(active=True, cta_type=Plan.CtaType.SUBSCRIBE)
        .select_related("product")
        .order_by("sort_order", "id")
    ):
        blockers = {
            lifecycle.change_blocker(subscription, plan, plan.price_for_interval(i))
            for i in state.INTERVALS
        }
        if "" in blockers:
            plans.append(plan)
        else:
            elsewhere.append({"plan": plan, "reason": sorted(blockers)[-1]})
    context = {
        "subscription": subscription,
        "plans": plans,
        "elsewhere": elsewhere,
        "chosen_plan": source.get("plan", ""),
        "chosen_interval": source.get("interval", subscription.interval or "month"),
    }
    if source.get("plan"):
        confirm = request.method == "POST" and source.get("confirm") == "1"
        proration_date = source.get("proration_date")
        try:
            result = plan_change.change_plan(
                subscription=subscription,
                plan=source["plan"],
                interval=context["chosen_interval"],
                preview=not confirm,
                actor=request.user,
                proration_date=parse_id(proration_date),
            )
        except DomainError as exc:
            context.update(form_error=exc.message, form_error_code=exc.code)
            return render(request, "billing/change_plan.html", context, status=400)
        if result.applied:
            messages.success(request, f"Your plan is now {result.plan.name}.")
            return redirect("billing:subscription")
        context["preview"] = result
    return render(request, "billing/change_plan.html", context)


@login_required
def invoice_list(request):
    page = Paginator(selectors.invoices_for_user(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "billing/invoice_list.html", {"page": page})


def _invoice_or_404(request, number):
    try:
        return invoice_service.invoice_for_user(user=request.user, number=number)
    except errors.InvoiceNotFound as exc:
        raise Http404("No such invoice.") from exc


def _business():
    return {
        "business_name": get_config("business_name"),
        "business_address": get_config("business_address"),
        "business_tax_id": get_config("business_tax_id"),
        "bank_instructions": get_config("billing.bank_transfer_instructions"),
    }


@login_required
def invoice_detail(request, number):
    invoice = _invoice_or_404(request, number)
    return render(
        request,
        "billing/subscription_invoice.html",
        {
            "invoice": invoice,
            "discount_label": selectors.discount_label(invoice) or "Discounts and credits",
            **_business(),
        },
    )


@login_required
def invoice_pdf(request, number):
    invoice = _invoice_or_404(request, number)
    try:
        data = render_invoice_pdf(invoice, **_business())
    except PdfUnavailable as exc:
        raise Http404("PDF invoices are not available on this server.") from exc
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response
