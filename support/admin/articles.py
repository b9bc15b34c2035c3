"""Help articles: written and published in the console, audited like every console edit."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from backoffice.audited import AuditedAdmin
from support import embeddings, kb
from support.models import Article, ArticleStatus


@admin.register(Article)
class ArticleAdmin(AuditedAdmin):
    list_display = ("title", "slug", "content_type", "status", "updated_at")
    list_filter = ("status", "content_type")
    search_fields = ("title", "slug", "body")
    audit_unshown_fields = ("body",)  # the log says the body changed, not what it says
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("preview", "published_at", "created_at", "updated_at")
    fields = (
        "title",
        "slug",
        "summary",
        "content_type",
        "status",
        "tags",
        "body",
        "preview",
        "published_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Preview (as customers see it)")
    def preview(self, obj):
        if not obj or not obj.body:
            return "Save to see a preview."
        return format_html('<div class="article-preview">{}</div>', kb.render_markdown(obj.body))

    def save_model(self, request, obj, form, change):
        if obj.status == ArticleStatus.PUBLISHED and obj.published_at is None:
            obj.published_at = timezone.now()
        super().save_model(request, obj, form, change)
        # Its semantic vector follows the new text once this commits (no-op without pgvector).
        embeddings.queue_article(obj.pk)
