"""Staff console for the catalog.

Status, featuring, duplication and deletion of products go through ``catalog.services``
(actions), so they are audited and ``published_at`` stays right; plain edits are audited here.
"""

from django.contrib import admin, messages
from django.contrib.admin.options import BaseInlineFormSet
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backoffice.audited import AuditedAdmin as BaseAuditedAdmin
from backoffice.policy import policy_action
from catalog import services
from catalog.models import (
    Category,
    Collection,
    CollectionItem,
    Plan,
    Price,
    PricingTier,
    Product,
    Review,
    ReviewVote,
    Variant,
)
from catalog.public_cache import catalog_changed
from core.money import format_money


class AuditedAdmin(BaseAuditedAdmin):
    """Audited like every console edit, and drops the public API's cached answers
    (catalog.public_cache) once the change commits."""

    def on_change(self) -> None:
        catalog_changed()


# --- categories -----------------------------------------------------------------------------


class ChildCategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    fields = ["name", "slug", "sort_order"]
    prepopulated_fields = {"slug": ["name"]}
    extra = 0
    verbose_name = "child category"
    verbose_name_plural = "child categories"
    show_change_link = True


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ["name", "slug", "parent", "sort_order"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    list_editable = ["sort_order"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    inlines = [ChildCategoryInline]


# --- products -------------------------------------------------------------------------------


class PriceInline(admin.TabularInline):
    model = Price
    fields = [
        "nickname",
        "unit_amount",
        "currency",
        "type",
        "interval",
        "interval_count",
        "tiers_mode",
        "active",
        "stripe_price_id",
    ]
    readonly_fields = ["stripe_price_id"]
    extra = 0
    show_change_link = True  # tiers are edited on the price's own page


class VariantInline(admin.TabularInline):
    model = Variant
    fields = [
        "name",
        "sku",
        "license_type",
        "seats",
        "price_amount",
        "currency",
        "available",
        "sort_order",
    ]
    extra = 0


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Not deleted"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = [
        "name",
        "type",
        "status",
        "featured",
        "prices_label",
        "published_at",
        "is_deleted",
        "public_link",
    ]
    list_filter = ["status", "type", "featured", DeletedFilter, "categories"]
    search_fields = ["name", "slug", "short_description", "stripe_product_id"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["categories"]
    readonly_fields = [
        "status",
        "published_at",
        "deleted_at",
        "stripe_product_id",
        "stripe_synced_at",
        "created_at",
        "updated_at",
        "public_link",
        "tiers_overview",
    ]
    inlines = [PriceInline, VariantInline]
    actions = [
        "publish",
        "archive",
        "unpublish",
        "feature",
        "unfeature",
        "duplicate",
        "soft_delete",
        "restore",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "type",
                    "status",
                    "published_at",
                    "public_link",
                    "short_description",
                    "description",
                    "categories",
                    "tags",
                    "featured",
                ]
            },
        ),
        (
            "Media and metadata",
            {"fields": ["images", "files", "metadata", "seo_title", "seo_description"]},
        ),
        (
            "Selling",
            {
                "fields": [
                    "default_price",
                    "tax_rate",
                    "credits_granted",
                    "trial_days",
                    "tiers_overview",
                ]
            },
        ),
        (
            "Digital delivery",
            {"fields": ["download_file", "download_limit", "access_duration_days"]},
        ),
        ("Inventory", {"fields": ["track_inventory", "stock_quantity", "low_stock_threshold"]}),
        ("Stripe", {"fields": ["stripe_product_id", "stripe_synced_at"]}),
        ("History", {"fields": ["created_at", "updated_at", "deleted_at"]}),
    ]
    raw_id_fields = ["download_file", "default_price"]

    def get_queryset(self, request):
        # Staff see soft-deleted products too (filter "deleted"), so they can restore them.
        return Product.all_objects.prefetch_related("prices__tiers")

    @admin.display(description="Prices")
    def prices_label(self, obj):
        labels = [
            format_money(p.unit_amount, p.currency) if not p.tiers_mode else "tiered"
            for p in obj.prices.all()
            if p.active
        ]
        return ", ".join(labels[:3]) or "—"

    @admin.display(boolean=True, description="Deleted")
    def is_deleted(self, obj):
        return obj.deleted_at is not None

    @admin.display(description="Public page")
    def public_link(self, obj):
        if not obj.pk:
            return "—"
        if not obj.is_visible:
            return "not public"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">view</a>', obj.get_absolute_url()
        )

    @admin.display(description="Tiers")
    def tiers_overview(self, obj):
        rows = []
        for price in obj.prices.all():
            if not price.tiers_mode:
                continue
            steps = (
                ", ".join(
                    f"up to {t.up_to or '∞'}: {format_money(t.unit_amount, price.currency)}"
                    + (f" + {format_money(t.flat_amount, price.currency)}" if t.flat_amount else "")
                    for t in price.tiers.all()
                )
                or "no tiers yet"
            )
            rows.append(
                (
                    reverse("admin:catalog_price_change", args=[price.pk]),
                    price.nickname or f"Price {price.pk}",
                    price.tiers_mode,
                    steps,
                )
            )
        if not rows:
            return "No tiered prices. Set a price's tiers mode, then add tiers on its page."
        return format_html_join("", '<p><a href="{}">{}</a> ({}): {}</p>', rows)

    def view_on_site(self, obj):
        return obj.get_absolute_url() if obj.is_visible else None

    def _each(self, request, queryset, label, call):
        done = 0
        for product in queryset.order_by("pk"):
            call(product)
            done += 1
        self.message_user(request, f"{label}: {done} product(s).", messages.SUCCESS)

    @policy_action("catalog.manage", description="Publish selected products")
    def publish(self, request, queryset):
        self._each(
            request,
            queryset,
            "Published",
            lambda p: services.publish_product(product=p, actor=request.user),
        )

    @policy_action("catalog.manage", description="Archive selected products")
    def archive(self, request, queryset):
        self._each(
            request,
            queryset,
            "Archived",
            lambda p: services.archive_product(product=p, actor=request.user),
        )

    @policy_action("catalog.manage", description="Move selected products back to draft")
    def unpublish(self, request, queryset):
        self._each(
            request,
            queryset,
            "Back to draft",
            lambda p: services.unpublish_product(product=p, actor=request.user),
        )

    @policy_action("catalog.manage", description="Feature selected products")
    def feature(self, request, queryset):
        self._each(
            request,
            queryset,
            "Featured",
            lambda p: services.set_featured(product=p, featured=True, actor=request.user),
        )

    @policy_action("catalog.manage", description="Unfeature selected products")
    def unfeature(self, request, queryset):
        self._each(
            request,
            queryset,
            "Unfeatured",
            lambda p: services.set_featured(product=p, featured=False, actor=request.user),
        )

    @policy_action("catalog.manage", description="Duplicate selected products (as drafts)")
    def duplicate(self, request, queryset):
        self._each(
            request,
            queryset,
            "Duplicated",
            lambda p: services.duplicate_product(product=p, actor=request.user),
        )

    @policy_action(
        "catalog.manage", description="Delete selected products (soft: orders keep them)"
    )
    def soft_delete(self, request, queryset):
        self._each(
            request,
            queryset,
            "Deleted",
            lambda p: services.soft_delete_product(product=p, actor=request.user),
        )

    @policy_action("catalog.manage", description="Restore selected deleted products")
    def restore(self, request, queryset):
        self._each(
            request,
            queryset,
            "Restored",
            lambda p: services.restore_product(product=p, actor=request.user),
        )

    def get_actions(self, request):
        # The stock "delete selected" would remove rows that orders point at: soft delete only.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        services.soft_delete_product(product=obj, actor=request.user)


class TierFormSet(BaseInlineFormSet):
    """A tiered price needs tiers ending in one open-ended tier ("and above"), as Stripe
    requires ``up_to=inf``; a per-unit price has none. Otherwise price_for_quantity refuses
    quantities past the last tier."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        tiers_mode = self.instance.tiers_mode
        if not tiers_mode:
            if kept:
                raise ValidationError("Set the tiers mode (graduated or volume) to use tiers.")
            return
        open_ended = [row for row in kept if row.get("up_to") is None]
        if len(open_ended) != 1:
            raise ValidationError(
                "A tiered price needs exactly one last tier with an empty “up to” "
                "(it covers every larger quantity)."
            )


class TierInline(admin.TabularInline):
    model = PricingTier
    formset = TierFormSet
    fields = ["up_to", "unit_amount", "flat_amount"]
    extra = 1


@admin.register(Price)
class PriceAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "product",
        "type",
        "interval",
        "tiers_mode",
        "active",
        "stripe_price_id",
    ]
    list_filter = ["type", "interval", "tiers_mode", "active", "currency"]
    search_fields = ["nickname", "product__name", "product__slug", "stripe_price_id", "lookup_key"]
    autocomplete_fields = ["product"]
    readonly_fields = ["stripe_price_id", "stripe_synced_at"]
    inlines = [TierInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Variant)
class VariantAdmin(AuditedAdmin):
    list_display = ["sku", "name", "product", "license_type", "price_label", "available"]
    list_filter = ["license_type", "available", "currency"]
    search_fields = ["sku", "name", "product__name"]
    autocomplete_fields = ["product"]

    @admin.display(description="Price", ordering="price_amount")
    def price_label(self, obj):
        return format_money(obj.price_amount, obj.currency)


@admin.register(PricingTier)
class PricingTierAdmin(AuditedAdmin):
    list_display = ["price", "up_to", "unit_amount", "flat_amount"]
    list_filter = ["price__tiers_mode"]
    search_fields = ["price__nickname", "price__product__name"]
    autocomplete_fields = ["price"]


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
    autocomplete_fields = ["product", "monthly_price", "yearly_price"]
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
