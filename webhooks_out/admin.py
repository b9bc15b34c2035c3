"""Staff console: the business's webhook endpoints, the events sent and the delivery log."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget, UnfoldAdminURLInputWidget

from accounts import authority
from backoffice.audited import AuditedAdmin
from backoffice.confirm import confirm_first
from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyAdmin, ReadOnlyInline
from webhooks_out import events, services
from webhooks_out.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=1000,
        assume_scheme="https",
        widget=UnfoldAdminURLInputWidget,
        help_text="Where the events are POSTed.",
    )
    event_types = forms.MultipleChoiceField(
        choices=events.choices(),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text="Choose at least one event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if getattr(settings, "WEBHOOKS_OUT_REQUIRE_HTTPS", True) and not url.lower().startswith(
            "https://"
        ):
            raise ValidationError(
                "Use an https:// address: events carry customer data.", code="https_required"
            )
        refusal = services.address_refusal(url)
        if refusal:
            raise ValidationError(refusal, code="address_not_public")
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditedAdmin):
    form = EndpointForm
    list_display = [
        "url",
        "description",
        "active",
        "event_list",
        "last_sequence",
        "disabled_reason",
        "created_at",
    ]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "active",
        "disabled_at",
        "disabled_reason",
        "last_sequence",
        "created_by",
        "created_at",
        "recent_deliveries",
    ]
    actions = ["send_test_event", "enable_endpoints", "disable_endpoints", "rotate_secret"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "event_types"]
        return fields if obj is None else fields + self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.event_types)

    @admin.display(description="latest deliveries")
    def recent_deliveries(self, obj):
        rows = obj.deliveries.select_related("event").order_by("-sequence")[:10]
        if not rows:
            return "Nothing sent yet."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>#{} {} — {} ({} attempts, last answer {})</li>",
                (
                    (
                        d.sequence,
                        d.event.type,
                        d.get_status_display(),
                        d.attempts,
                        d.last_response_code or d.last_error or "none",
                    )
                    for d in rows
                ),
            ),
        )

    def save_model(self, request, obj, form, change):
        authority.require(request.user, "webhooks.endpoint.manage")
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(
                request,
                format_html(
                    "The signing secret of {} is <code>{}</code>. Copy it now: it is not shown "
                    "again (rotate it to get a new one).",
                    obj.url,
                    obj.secret,
                ),
            )

    @policy_action("webhooks.endpoint.manage", description="Send a test event")
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            event = services.send_test(endpoint, actor=request.user)
            self.message_user(
                request, f"{endpoint.url}: test event {event.public_id} queued.", messages.SUCCESS
            )

    @policy_action("webhooks.endpoint.manage", description="Enable the selected endpoints")
    def enable_endpoints(self, request, queryset):
        changed = sum(services.enable(endpoint, actor=request.user) for endpoint in queryset)
        self.message_user(
            request,
            f"{changed} endpoint(s) enabled; their waiting deliveries go out now.",
            messages.SUCCESS,
        )

    @policy_action("webhooks.endpoint.manage", description="Disable the selected endpoints")
    @confirm_first(
        "Disable these endpoints? Their events are kept and sent when they are enabled again.",
        "Yes, disable",
    )
    def disable_endpoints(self, request, queryset):
        changed = sum(services.disable(endpoint, actor=request.user) for endpoint in queryset)
        self.message_user(request, f"{changed} endpoint(s) disabled.", messages.SUCCESS)

    @policy_action("webhooks.endpoint.manage", description="Rotate the signing secret")
    @confirm_first(
        "Rotate the signing secret? The old one stops working at once: the "
        "receiver must be given the new one.",
        "Yes, rotate",
    )
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = services.rotate_secret(endpoint, actor=request.user)
            messages.warning(
                request,
                format_html(
                    "The new signing secret of {} is <code>{}</code>. Copy it now: it is not "
                    "shown again.",
                    endpoint.url,
                    secret,
                ),
            )


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    show_change_link = False
    fields = ("attempted_at", "response_code", "error", "response_excerpt", "duration_ms")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "sequence",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "endpoint"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__public_id"]
    readonly_fields = [
        "endpoint",
        "event",
        "sequence",
        "status",
        "attempts",
        "first_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "last_response_code",
        "last_error",
        "replay_of",
        "body",
    ]
    inlines = [AttemptInline]
    actions = ["replay_deliveries"]

    @admin.display(description="event")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="body sent")
    def body(self, obj):
        return format_html("<pre>{}</pre>", services.body_of(obj).decode())

    @policy_action("webhooks.delivery.replay", description="Resend the selected deliveries")
    def replay_deliveries(self, request, queryset):
        for delivery in queryset.select_related("event", "endpoint"):
            copy = services.replay(delivery, actor=request.user)
            note = (
                ""
                if delivery.endpoint.active
                else " (the endpoint is disabled: it goes out when it is enabled)"
            )
            self.message_user(
                request,
                f"{delivery.event.public_id} queued again as "
                f"#{copy.sequence} to {delivery.endpoint.url}{note}.",
                messages.SUCCESS,
            )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["=public_id"]
    readonly_fields = ["public_id", "type", "payload", "dedupe_key", "created_at"]
