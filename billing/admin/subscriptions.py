"""Subscriptions: the list and its actions, dunning (past due) and subscribers per plan."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils import timezone

from backoffice.audited import AuditedAdmin
from backoffice.confirm import confirm_first
from backoffice.policy import perform, policy_action
from backoffice.readonly import ReadOnlyAdmin, ReadOnlyInline
from billing import models
from billing.admin.common import AllReadOnlyAdmin, MoneyAdminMixin, currency_of, run_each
from billing.services.invoices import issue_period_invoice
from billing.services.subscriptions.lifecycle import cancel
from billing.stripe import client as stripe_client
from billing.stripe import sync
from core.money import format_money


class SubscriptionEventInline(ReadOnlyInline):
    model = models.SubscriptionEvent
    show_change_link = False
    fields = ("created_at", "type", "source", "message", "actor", "stripe_event_id")
    readonly_fields = fields
    ordering = ["-created_at", "-id"]


class RenewingSoonFilter(admin.SimpleListFilter):
    title = "renewal"
    parameter_name = "renewing"

    def lookups(self, request, model_admin):
        return [("7", "Renewing within 7 days"), ("30", "Renewing within 30 days")]

    def queryset(self, request, queryset):
        if self.value() in ("7", "30"):
            now = timezone.now()
            return queryset.filter(
                status__in=["ACTIVE", "TRIALING"],
                cancel_at_period_end=False,
                current_period_end__gte=now,
                current_period_end__lte=now + timedelta(days=int(self.value())),
            )
        return queryset


class ExtendTrialForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=90, initial=7, help_text="Days added to the trial (1–90)."
    )


def amount_at_risk(queryset):
    return queryset.annotate(
        at_risk=Coalesce(Sum("invoices__amount_due", filter=Q(invoices__status="OPEN")), 0)
    )


@admin.register(models.Subscription)
class SubscriptionAdmin(MoneyAdminMixin, AuditedAdmin):
    list_display = [
        "id",
        "user",
        "plan",
        "status",
        "billing_source",
        "current_period_end",
        "cancel_at_period_end",
        "at_risk_display",
    ]
    list_filter = ["status", "plan", "billing_source", RenewingSoonFilter, "cancel_at_period_end"]
    search_fields = ["user__email", "stripe_subscription_id"]
    raw_id_fields = ["user"]
    inlines = [SubscriptionEventInline]
    money_fields = ("credit_balance",)
    money_currency = "price.currency"
    actions = [
        "action_cancel_now",
        "action_cancel_at_end",
        "action_extend_trial",
        "action_comp_period",
        "action_issue_invoice",
    ]

    def get_readonly_fields(self, request, obj=None):
        # Money and lifecycle fields change only through the actions (services, audited,
        # Stripe kept in step); staff may annotate metadata.
        return self.with_money(
            request, obj, [f.name for f in self.model._meta.fields if f.name != "metadata"]
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return amount_at_risk(super().get_queryset(request).select_related("plan", "user"))

    @admin.display(description="Amount at risk", ordering="at_risk")
    def at_risk_display(self, obj):
        return format_money(getattr(obj, "at_risk", 0) or 0, currency_of(obj, "price.currency"))

    @policy_action("billing.subscription.cancel_now", description="Cancel now")
    @confirm_first("Cancel these subscriptions now? Access ends immediately.", "Yes, cancel now")
    def action_cancel_now(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda s: cancel(subscription=s, at_period_end=False, actor=request.user),
            "cancelled",
        )

    @policy_action("billing.subscription.cancel_at_end", description="Cancel at period end")
    @confirm_first(
        "Cancel these subscriptions at the end of their period?", "Yes, cancel at period end"
    )
    def action_cancel_at_end(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda s: cancel(subscription=s, at_period_end=True, actor=request.user),
            "will end at the period end",
        )

    @policy_action(
        "billing.subscription.comp_period", description="Give the next period free (comp)"
    )
    @confirm_first("Give these subscriptions their next period free?", "Yes, comp the period")
    def action_comp_period(self, request, queryset):
        for sub in queryset.select_related("price"):
            amount = sub.price.unit_amount * sub.quantity if sub.price_id else 0
            perform(
                self,
                request,
                action="billing.subscription.comp_period",
                subject=str(sub),
                payload={"subscription_id": sub.pk},
                amount=amount,
                currency=sub.price.currency if sub.price_id else "",
                done="next period free",
            )

    @policy_action(
        "billing.invoice.issue", description="Issue the current period's invoice (manual billing)"
    )
    def action_issue_invoice(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda s: issue_period_invoice(subscription=s, actor=request.user),
            "invoice issued",
        )

    @policy_action("billing.subscription.extend_trial", description="Extend trial (opens a form)")
    def action_extend_trial(self, request, queryset):
        if "apply" in request.POST:
            form = ExtendTrialForm(request.POST)
            if form.is_valid():
                days = form.cleaned_data["days"]
                for sub in queryset:
                    trial_end = sub.trial_end
                    perform(
                        self,
                        request,
                        action="billing.subscription.extend_trial",
                        subject=str(sub),
                        amount=days,
                        payload={
                            "user_id": sub.user_id,
                            "subscription_id": sub.pk,
                            "days": days,
                            "trial_end": trial_end and trial_end.isoformat(),
                            "reason": "Extended by staff from the admin.",
                        },
                        done=f"trial extended by {days} days",
                    )
                return None
        else:
            form = ExtendTrialForm()
        return TemplateResponse(
            request,
            "billing/admin/extend_trial.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "queryset": queryset,
                "action": "action_extend_trial",
                "title": "Extend trial",
                "opts": self.model._meta,
            },
        )


@admin.register(models.PastDueSubscription)
class PastDueSubscriptionAdmin(MoneyAdminMixin, AllReadOnlyAdmin, ReadOnlyAdmin):
    """Dunning: every past-due or unpaid subscription with what is owed."""

    money_fields = ("credit_balance",)
    money_currency = "price.currency"

    list_display = [
        "id",
        "user",
        "plan",
        "status",
        "billing_source",
        "past_due_since",
        "at_risk_display",
    ]
    list_filter = ["status", "billing_source", "plan"]
    search_fields = ["user__email", "stripe_subscription_id"]
    ordering = ["past_due_since"]

    def get_queryset(self, request):
        return amount_at_risk(
            super()
            .get_queryset(request)
            .filter(status__in=["PAST_DUE", "UNPAID"])
            .select_related("plan", "user", "price")
        )

    @admin.display(description="Amount at risk", ordering="at_risk")
    def at_risk_display(self, obj):
        owed = getattr(obj, "at_risk", 0) or 0
        if not owed and obj.price_id:
            owed = obj.price.unit_amount * obj.quantity  # no invoice mirrored yet
        return format_money(owed, currency_of(obj, "price.currency"))


def _plan_count(status: str):
    """Subscribers of the row's plan in ``status`` (one subquery, no query per row)."""
    counted = (
        models.Subscription.objects.filter(plan_id=OuterRef("pk"), status=status)
        .order_by()
        .values("plan_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(models.PlanSubscribers)
class PlanSubscribersAdmin(ReadOnlyAdmin):
    """How many customers each plan has, by status that grants the plan."""

    list_display = [
        "name",
        "slug",
        "billing_source",
        "active",
        "monthly",
        "yearly",
        "live_count",
        "trialing_count",
        "past_due_count",
    ]
    actions = ["action_push_to_stripe", "action_pull_from_stripe"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("monthly_price", "yearly_price")
            .annotate(
                live=_plan_count("ACTIVE"),
                trialing=_plan_count("TRIALING"),
                past_due=_plan_count("PAST_DUE"),
            )
        )

    @admin.display(description="Monthly price")
    def monthly(self, obj):
        price = obj.monthly_price
        return format_money(price.unit_amount, price.currency) if price else None

    @admin.display(description="Yearly price")
    def yearly(self, obj):
        price = obj.yearly_price
        return format_money(price.unit_amount, price.currency) if price else None

    @admin.display(description="Active", ordering="live")
    def live_count(self, obj):
        return obj.live

    @admin.display(description="Trialing", ordering="trialing")
    def trialing_count(self, obj):
        return obj.trialing

    @admin.display(description="Past due", ordering="past_due")
    def past_due_count(self, obj):
        return obj.past_due

    @policy_action("billing.stripe.sync", description="Push to Stripe")
    def action_push_to_stripe(self, request, queryset):
        report = sync.push_products(
            products=[plan.product for plan in queryset], actor=request.user
        )
        self.message_user(
            request,
            f"Pushed {report.pushed}, failed {report.failed}.",
            messages.ERROR if report.failed else messages.SUCCESS,
        )

    @policy_action("billing.stripe.sync", description="Pull the catalog from Stripe")
    def action_pull_from_stripe(self, request, queryset):
        try:
            report = sync.pull_catalog(actor=request.user)
        except (stripe_client.StripeUnavailable, stripe_client.stripe.StripeError) as exc:
            self.message_user(request, f"Could not read Stripe's catalog: {exc}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Created {report.created}, updated {report.updated}, failed {report.failed}.",
            messages.ERROR if report.failed else messages.SUCCESS,
        )
