"""What the public catalog API answers: products with their prices, variants and ratings,
categories, collections, plans and reviews (``catalog.api`` serves them).

List serializers read model instances or rows from ``values()`` alike (``_value``).
"""

import functools

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import selectors
from catalog.models import (
    Category,
    Collection,
    Plan,
    Price,
    PricingTier,
    Product,
    Review,
    Variant,
)
from core.money import format_money


class MoneySerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units (cents; yen for JPY).")
    currency = serializers.CharField(help_text="Lower-case ISO-4217 code.")
    display = serializers.CharField(help_text="Formatted for people, e.g. $19.00.")


# Babel's formatting costs tens of microseconds a call; a catalog shows few distinct amounts.
_display = functools.lru_cache(maxsize=4096)(format_money)


def money(amount, currency) -> dict | None:
    if amount is None or not currency:
        return None
    return {"amount": amount, "currency": currency, "display": _display(amount, currency)}


def rating(average: float | None, count: int) -> dict:
    """The published rating as the API shows it: the average to two places (Python's
    rounding), and the number of verified reviews."""
    return {"average": round(average, 2) if average is not None else None, "count": count}


def _value(obj, name, default=None):
    """``name`` of a model instance or of a row from ``values()``."""
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class RatingSerializer(serializers.Serializer):
    """The published rating: verified reviews only (by customers who paid)."""

    average = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class RatingSummarySerializer(RatingSerializer):
    distribution = serializers.DictField(
        child=serializers.IntegerField(), help_text='Keys "1".."5": number of verified reviews.'
    )
    verified_count = serializers.IntegerField(
        help_text="Reviews by customers who paid for the product (the same as count)."
    )
    verified_average = serializers.FloatField(allow_null=True)
    unverified_count = serializers.IntegerField(
        help_text="Reviews listed but not counted: the author has not paid for the product."
    )


@functools.lru_cache(maxsize=16)
def _product_url_template(urlconf: str | None, script_prefix: str) -> str:
    """The product page's path with ``{slug}`` in it, per URLconf and script prefix (what
    reverse() reads): one reverse() per process rather than per page."""
    return reverse("catalog:product", kwargs={"slug": "__slug__"}).replace("__slug__", "{slug}")


def product_url_template() -> str:
    """The product page's path with ``{slug}`` in it, for the current request."""
    return _product_url_template(get_urlconf(), get_script_prefix())


class ProductListSerializer(serializers.ModelSerializer):
    """Serializes the rows of ``selectors.product_list_rows()`` (dicts).

    The declared fields describe the shape (the OpenAPI schema, and the detail reuses them);
    ``to_representation`` builds each row's dict directly, because DRF's field-by-field
    walk costs more than the page's query for a page of 25."""

    categories = CategoryRefSerializer(many=True, read_only=True)
    from_price = serializers.SerializerMethodField(
        help_text="Cheapest active flat price or available variant."
    )
    rating = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "slug",
            "name",
            "short_description",
            "type",
            "tags",
            "featured",
            "images",
            "from_price",
            "categories",
            "rating",
            "credits_granted",
            "published_at",
            "url",
        ]

    def to_representation(self, row):
        published_at = row["published_at"]
        return {
            "id": row["id"],
            "slug": row["slug"],
            "name": row["name"],
            "short_description": row["short_description"],
            "type": row["type"],
            "tags": row["tags"],
            "featured": row["featured"],
            "images": row["images"],
            "from_price": self.get_from_price(row),
            "categories": [
                {"slug": ref["slug"], "name": ref["name"]} for ref in row["category_refs"]
            ],
            "rating": self.get_rating(row),
            "credits_granted": row["credits_granted"],
            "published_at": (
                self._timestamp.to_representation(published_at) if published_at else None
            ),
            "url": self._url_template.format(slug=row["slug"]),
        }

    @functools.cached_property
    def _timestamp(self) -> serializers.DateTimeField:
        # The page's time zone read once: a DateTimeField without one looks up the current
        # zone for every value (a context-local read per row).
        return serializers.DateTimeField(default_timezone=timezone.get_current_timezone())

    @functools.cached_property
    def _url_template(self) -> str:
        # One reverse() per page, not per row. Slugs need no quoting in a path.
        return product_url_template()

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_from_price(self, obj):
        return money(_value(obj, "from_amount"), _value(obj, "from_currency"))

    @extend_schema_field(RatingSerializer)
    def get_rating(self, obj):
        return rating(_value(obj, "rating_average"), _value(obj, "rating_count", 0))


class TierSerializer(serializers.ModelSerializer):
    up_to = serializers.IntegerField(allow_null=True, help_text="null means infinity.")

    class Meta:
        model = PricingTier
        fields = ["up_to", "unit_amount", "flat_amount"]


class PriceSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True, read_only=True)
    display = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = [
            "id",
            "nickname",
            "unit_amount",
            "currency",
            "type",
            "interval",
            "interval_count",
            "tiers_mode",
            "tiers",
            "display",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_display(self, obj):
        return str(obj)


class VariantSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = ["id", "name", "sku", "license_type", "seats", "price", "available"]

    @extend_schema_field(MoneySerializer)
    def get_price(self, obj):
        return money(obj.price_amount, obj.currency)


class ProductDetailSerializer(ProductListSerializer):
    """Serializes a Product from ``selectors.product_detail_queryset()``."""

    prices = PriceSerializer(many=True, read_only=True)
    variants = VariantSerializer(many=True, read_only=True)
    rating_summary = serializers.SerializerMethodField()
    in_stock = serializers.SerializerMethodField()

    class Meta(ProductListSerializer.Meta):
        fields = [
            *ProductListSerializer.Meta.fields,
            "description",
            "seo_title",
            "seo_description",
            "tax_rate",
            "trial_days",
            "download_limit",
            "access_duration_days",
            "in_stock",
            "prices",
            "variants",
            "rating_summary",
        ]

    def to_representation(self, instance):
        # A model instance, not a list row: DRF's field-by-field serialization.
        return serializers.ModelSerializer.to_representation(self, instance)

    @extend_schema_field(RatingSummarySerializer)
    def get_rating_summary(self, obj):
        return selectors.rating_summary(obj)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_in_stock(self, obj):
        return not obj.track_inventory or obj.stock_quantity > 0


class CategoryTreeSerializer(serializers.ModelSerializer):
    children = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "slug", "name", "description", "children"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_children(self, obj):
        return CategoryTreeSerializer(getattr(obj, "tree_children", []), many=True).data


class CollectionProductSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Product
        fields = ["slug", "name", "short_description", "type", "images", "url"]


class CollectionSerializer(serializers.ModelSerializer):
    products = serializers.SerializerMethodField()

    class Meta:
        model = Collection
        fields = ["id", "slug", "name", "description", "products"]

    @extend_schema_field(CollectionProductSerializer(many=True))
    def get_products(self, obj):
        items = getattr(obj, "visible_items", [])
        return CollectionProductSerializer([item.product for item in items], many=True).data


class PlanPriceSerializer(MoneySerializer):
    id = serializers.IntegerField()
    interval = serializers.CharField()
    interval_count = serializers.IntegerField()


class SavingSerializer(MoneySerializer):
    percent = serializers.IntegerField()


class CtaSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Plan.CtaType.choices)
    # The stubs see a serializer field named ``label`` as Field.label (the field's own title);
    # DRF moves declared fields off the class, so the API's ``label`` field is what this is.
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.CharField(help_text="For the monthly interval.")
    yearly_url = serializers.CharField()


def plan_price(price: Price | None) -> dict | None:
    if price is None:
        return None
    amount = money(price.unit_amount, price.currency)
    assert amount is not None  # a stored price has its currency (price_currency_iso)
    return {
        "id": price.pk,
        **amount,
        "interval": price.interval,
        "interval_count": price.interval_count,
    }


class PlanSerializer(serializers.ModelSerializer):
    product: serializers.SlugRelatedField[Product] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    monthly_price = serializers.SerializerMethodField()
    yearly_price = serializers.SerializerMethodField()
    yearly_saving = serializers.SerializerMethodField()
    cta = serializers.SerializerMethodField()
    trial_days = serializers.IntegerField(source="product.trial_days", read_only=True)
    included_downloads = serializers.SerializerMethodField(
        help_text="Slugs of the products subscribers download without buying them."
    )

    class Meta:
        model = Plan
        fields = [
            "id",
            "slug",
            "name",
            "tagline",
            "product",
            "monthly_price",
            "yearly_price",
            "yearly_saving",
            "credits_per_period",
            "trial_credits",
            "trial_days",
            "entitlements",
            "feature_cost_overrides",
            "storage_quota_bytes",
            "included_downloads",
            "billing_source",
            "badge",
            "highlight",
            "cta",
            "sort_order",
        ]

    def get_included_downloads(self, obj) -> list[str]:
        shown = getattr(obj, "included_downloads_shown", None)
        if shown is None:
            shown = obj.included_downloads.all()
        return [product.slug for product in shown]

    @extend_schema_field(PlanPriceSerializer(allow_null=True))
    def get_monthly_price(self, obj):
        return plan_price(obj.monthly_price)

    @extend_schema_field(PlanPriceSerializer(allow_null=True))
    def get_yearly_price(self, obj):
        return plan_price(obj.yearly_price)

    @extend_schema_field(SavingSerializer(allow_null=True))
    def get_yearly_saving(self, obj):
        saving = selectors.yearly_saving(obj)
        if saving is None:
            return None
        return {
            **money(saving, obj.yearly_price.currency),
            "percent": selectors.yearly_saving_percent(obj),
        }

    @extend_schema_field(CtaSerializer)
    def get_cta(self, obj):
        monthly = selectors.plan_cta(obj, "month")
        return {**monthly, "yearly_url": selectors.plan_cta(obj, "year")["url"]}


class ReviewSerializer(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "rating",
            "title",
            "body",
            "verified",
            "helpful_votes",
            "author_name",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_author_name(self, obj):
        # First name and initial only: a public page is no place for a customer's full name.
        author = obj.author
        if author.first_name:
            initial = f" {author.last_name[:1]}." if author.last_name else ""
            return f"{author.first_name}{initial}"
        return "Customer"


class ReviewInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    def validate_rating(self, value):
        if isinstance(self.initial_data.get("rating"), bool | float):
            raise serializers.ValidationError("A rating is a whole number from 1 to 5.")
        return value
