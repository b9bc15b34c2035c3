"""Help-bot conversations and their messages, read-only (large tables)."""

from django.contrib import admin

from backoffice.readonly import ReadOnlyAdmin
from backoffice.search import by_full_text, by_id, by_user_email
from backoffice.tables import LargeTableAdmin
from support.models import ChatMessage, Conversation


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "body", "answered", "helpful")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(LargeTableAdmin):
    list_display = ("pk", "customer", "created_at", "resolved", "handed_off_ticket")
    list_filter = ("resolved", ("handed_off_ticket", admin.EmptyFieldListFilter), "created_at")
    search_by = (
        by_user_email("customer"),
        by_full_text("body", label="words in its messages", through="messages"),
        by_id("conversation id"),
    )
    list_select_related = ("customer", "handed_off_ticket")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("customer", "resolved", "handed_off_ticket", "handed_off_at", "created_at")
    fields = readonly_fields
    inlines = [ChatMessageInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Every help-bot message, to read what customers ask and what the bot could not
    answer (answered: No)."""

    list_display = ("created_at", "conversation", "role", "short_body", "answered", "helpful")
    list_filter = ("role", "answered", "helpful", "created_at")
    search_by = (by_full_text("body"), by_user_email("conversation__customer"), by_id("message id"))
    list_select_related = ("conversation",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    @admin.display(description="message")
    def short_body(self, obj):
        return obj.body if len(obj.body) <= 120 else f"{obj.body[:119]}…"
