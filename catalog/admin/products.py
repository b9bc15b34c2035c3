"""Categories and products: status, featuring, duplication and deletion go through
``catalog.services`` (actions), so they are audited and ``published_at`` stays right."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backoffice.policy import policy_action
from catalog import services
from catalog.admin.common import AuditedAdmin
from catalog.models import (
    Category,
    Price,
    Product,
    Variant,
)
from core.money import format_money

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
