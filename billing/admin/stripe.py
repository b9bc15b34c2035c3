"""What Stripe sends: its webhook events, drift between Stripe and our records, customers'
billing profiles and payment methods, and the read-only mirror of its objects."""

from django.contrib import admin, messages

from backoffice.policy import policy_action
from backoffice.search import IndexedValuesFilter, by_exact, by_id, by_prefix
from backoffice.tables import LargeTableAdmin
from billing import models
from billing.admin import mirror
from billing.admin.common import RecordAdmin
from billing.stripe import client as stripe_client
from billing.stripe import inbox
from billing.stripe.events import version_differs


@admin.register(models.StripeDrift)
class StripeDriftAdmin(admin.ModelAdmin):
    list_display = [
        "object_id",
        "field",
        "local_value",
        "stripe_value",
        "created_at",
        "resolved_at",
    ]
    list_filter = ["field", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["object_id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.CustomerBillingProfile)
class CustomerBillingProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "billing_email"]
    search_fields = ["user__email", "stripe_customer_id", "billing_email"]
    raw_id_fields = ["user", "djstripe_customer"]


@admin.register(models.PaymentMethod)
class PaymentMethodAdmin(RecordAdmin):
    list_display = [
        "stripe_payment_method_id",
        "user",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
    ]
    list_filter = ["type", "brand"]
    search_fields = ["user__email", "stripe_payment_method_id"]


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(LargeTableAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "next_attempt_at",
    ]
    # created_at is the indexed twin of received_at (the inbox sets both in one statement).
    list_filter = ["status", ("type", IndexedValuesFilter), "created_at"]
    search_by = (
        by_exact("stripe_event_id", label="event id", fits=r"evt_\S+"),
        by_exact("object_id", label="the Stripe object's id", fits=r"[a-z]+_\S+"),
        by_prefix("type", label="type (or its beginning)", fits=r"[a-z_]+\.[a-z_.]*"),
        by_id(),
    )
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["action_replay"]

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields]
        names.insert(names.index("api_version") + 1, "api_version_check")
        return names

    @admin.display(description="API version check")
    def api_version_check(self, obj):
        if obj is None or not obj.api_version:
            return "-"
        if not version_differs(obj):
            return f"Same as ours ({stripe_client.api_version()})."
        return (
            f"Differs: the event was written in {obj.api_version}, we speak "
            f"{stripe_client.api_version()}. Its object is read again from Stripe at "
            "our version before it is applied (a deleted object is read from the "
            "payload, both shapes understood)."
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @policy_action("billing.webhook.replay", description="Replay selected events")
    def action_replay(self, request, queryset):
        count = inbox.replay(
            event_ids=list(queryset.values_list("id", flat=True)), actor=request.user
        )
        self.message_user(
            request, f"{count} event(s) queued for processing again.", messages.SUCCESS
        )


# dj-stripe mirrors Stripe's objects for reconciliation; its own admin pages would duplicate
# ours (a second "Invoices", "Subscriptions") and offer actions that call Stripe outside the
# staff policy, so they are not part of the staff console. The mirror is shown read-only in
# one "Stripe mirror" group instead (billing.admin.mirror).
for _model in [model for model in admin.site._registry if model._meta.app_label == "djstripe"]:
    admin.site.unregister(_model)
mirror.register(admin.site)
