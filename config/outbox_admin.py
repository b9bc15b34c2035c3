"""Staff can see queued work, and what is stuck and why; rows change only through the relay.

The task outbox (``core.outbox``) depends on no app, so its page in the staff console, which
uses the console's admin building blocks, is registered here (``StaffAdminConfig.ready``).
"""

from django.contrib import admin
from django.db.models import F

from backoffice.readonly import ReadOnlyAdmin
from backoffice.search import by_id
from backoffice.tables import LargeTableAdmin
from config.celery import app
from core.outbox.models import OutboxMessage


class PublishedFilter(admin.SimpleListFilter):
    title = "published"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return [("no", "Not yet (waiting for the broker)"), ("yes", "Published")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(published_at__isnull=False)
        return queryset


class TaskFilter(admin.SimpleListFilter):
    """By task, the choices from Celery's registry (not a DISTINCT over the outbox)."""

    title = "task"
    parameter_name = "task"

    def lookups(self, request, model_admin):

        return [(name, name) for name in sorted(app.tasks) if not name.startswith("celery.")]

    def queryset(self, request, queryset):
        return queryset.filter(task=self.value()) if self.value() else queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["id", "task", "created_at", "published_at", "attempts", "short_error"]
    list_filter = [PublishedFilter, TaskFilter]
    search_by = (by_id("message id"),)
    # Unpublished (stuck or waiting) first, then the newest: outbox_published_id_idx.
    ordering = [F("published_at").asc(nulls_first=True), "-id"]  # type: ignore[list-item]  # Django orders by expressions too; the stubs allow only names
    readonly_fields = [
        "task",
        "args",
        "kwargs",
        "created_at",
        "published_at",
        "claimed_until",
        "attempts",
        "last_error",
    ]
    show_full_result_count = False

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]
