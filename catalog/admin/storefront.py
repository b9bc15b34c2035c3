"""What the storefront shows beside products: collections, the pricing page's plans and
customer reviews."""

from django.contrib import admin
from django.db import transaction
from django.utils.html import format_html

from catalog import services
from catalog.admin.common import AuditedAdmin
from catalog.models import (
    Collection,
    CollectionItem,
    Plan,
    Review,
    ReviewVote,
)
from core.money import format_money

# --- collections, plans, reviews ----------------------------------------------------------


class CollectionItemInline(admin.TabularInline):
    model = CollectionItem
    fields = ["position", "product"]
    autocomplete_fields = ["product"]
    extra = 1
    ordering = ["position"]


@admin.register(Collection)
class CollectionAdmin(AuditedAdmin):
    list_display = ["name", "slug", "active", "sort_order", "public_link"]
    list_filter = ["active"]
    list_editable = ["active", "sort_order"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CollectionItemInline]

    @admin.display(description="Public page")
    def public_link(self, obj):
        return format_html('<a href="{}">view</a>', obj.get_absolute_url())


@admin.register(Plan)
class PlanAdmin(AuditedAdmin):
    list_display = [
        "name",
        "slug",
        "billing_source",
        "monthly_label",
        "yearly_label",
        "credits_per_period",
        "highlight",
        "active",
        "sort_order",
    ]
    list_filter = ["active", "billing_source", "highlight", "cta_type"]
    list_editable = ["sort_order", "active"]
    search_fields = ["name", "slug", "product__name", "badge"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["product", "monthly_price", "yearly_price", "included_downloads"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "tagline",
                    "product",
                    "active",
                    "sort_order",
                    "billing_source",
                ]
            },
        ),
        ("Prices", {"fields": ["monthly_price", "yearly_price"]}),
        (
            "What members get",
            {
                "fields": [
                    "credits_per_period",
                    "trial_credits",
                    "entitlements",
                    "feature_cost_overrides",
                    "storage_quota_bytes",
                    "included_downloads",
                ]
            },
        ),
        ("Pricing page", {"fields": ["badge", "highlight", "cta_type", "cta_label", "cta_url"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("monthly_price", "yearly_price")

    @admin.display(description="Monthly")
    def monthly_label(self, obj):
        p = obj.monthly_price
        return format_money(p.unit_amount, p.currency) if p else "—"

    @admin.display(description="Yearly")
    def yearly_label(self, obj):
        p = obj.yearly_price
        return format_money(p.unit_amount, p.currency) if p else "—"

    def view_on_site(self, obj):
        return "/pricing/"


@admin.register(Review)
class ReviewAdmin(AuditedAdmin):
    list_display = [
        "product",
        "author",
        "rating",
        "title",
        "verified",
        "helpful_votes",
        "created_at",
    ]
    list_filter = ["rating", "verified", "created_at"]
    search_fields = ["title", "body", "product__name", "author__email"]
    # Verified comes from orders (catalog.services.create_review), never from a person.
    readonly_fields = ["product", "author", "rating", "verified", "helpful_votes", "created_at"]
    fields = [
        "product",
        "author",
        "rating",
        "title",
        "body",
        "verified",
        "helpful_votes",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "author")

    def delete_model(self, request, obj):
        with transaction.atomic():
            super().delete_model(request, obj)
            services.refresh_ratings(product_ids=[obj.product_id])

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            product_ids = set(queryset.values_list("product_id", flat=True))
            super().delete_queryset(request, queryset)
            services.refresh_ratings(product_ids=product_ids)


@admin.register(ReviewVote)
class ReviewVoteAdmin(admin.ModelAdmin):
    """Votes are cast by customers only; staff can look."""

    list_display = ["review", "voter", "created_at"]
    search_fields = ["voter__email", "review__product__name"]
    list_filter = ["created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
