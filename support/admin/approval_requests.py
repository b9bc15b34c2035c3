"""Approval requests: an action above its requester's limit, approved (and run) or rejected
by a second staff member."""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.html import format_html, format_html_join

from accounts import authority
from backoffice.policy import policy_action
from core.api import DomainError
from support import approvals
from support.models import ApprovalRequest, ApprovalStatus


class ApprovalActionFilter(admin.SimpleListFilter):
    """Requests by action, named in the staff policy's words."""

    title = "action"
    parameter_name = "action_key"

    def lookups(self, request, model_admin):
        keys = (
            model_admin.get_queryset(request)
            .order_by()
            .values_list("action_key", flat=True)
            .distinct()
        )
        return sorted(
            (
                (key, authority.POLICY[key].label if key in authority.POLICY else key)
                for key in keys
            ),
            key=lambda choice: choice[1],
        )

    def queryset(self, request, queryset):
        return queryset.filter(action_key=self.value()) if self.value() else queryset


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "action",
        "amount_in_unit",
        "status",
        "requested_by",
        "approved_by",
        "ticket",
        "created_at",
    )
    list_filter = ("status", ApprovalActionFilter)
    readonly_fields = (
        "action",
        "amount_in_unit",
        "details",
        "reason",
        "status",
        "requested_by",
        "approved_by",
        "decided_at",
        "executed_at",
        "result",
        "ticket",
        "created_at",
    )
    fields = readonly_fields
    actions = ["approve_selected", "reject_selected"]

    @admin.display(description="Action", ordering="action_key")
    def action(self, obj):
        return obj.action_label

    @admin.display(description="Amount", ordering="amount")
    def amount_in_unit(self, obj):
        return obj.amount_shown

    @admin.display(description="Details")
    def details(self, obj):
        """What was asked for, its amount in the action's unit (the stored payload holds
        minor units)."""
        payload = obj.payload if isinstance(obj.payload, dict) else {}
        if not payload:
            return None

        def shown(key, value):
            if (
                key == "amount"
                and isinstance(value, int)
                and not isinstance(value, bool)
                and obj.action_key in authority.POLICY
            ):
                return authority.describe_amount(obj.action_key, value, obj.currency)
            return value

        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {}</li>",
                (
                    (key.replace("_", " ").capitalize(), shown(key, value))
                    for key, value in payload.items()
                ),
            ),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, decide, verb):
        # A request decided already (by someone else, or a second click) is said so, once.
        for approval in queryset.exclude(status=ApprovalStatus.PENDING):
            self.message_user(
                request,
                f"#{approval.pk} is already "
                f"{approval.get_status_display().lower()}: nothing was done.",
                messages.WARNING,
            )
        for approval in queryset.filter(Q(status=ApprovalStatus.PENDING)):
            try:
                decide(approval=approval, approver=request.user)
            except DomainError as exc:
                notes = " ".join(getattr(exc, "__notes__", []))
                self.message_user(
                    request, f"#{approval.pk}: {exc.message} {notes}".strip(), messages.ERROR
                )
            else:
                self.message_user(request, f"#{approval.pk} {verb}.", messages.SUCCESS)

    @policy_action("support.approval.decide", description="Approve (and run) selected requests")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approvals.approve, "approved and executed")

    @policy_action("support.approval.decide", description="Reject selected requests")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, approvals.reject, "rejected")
