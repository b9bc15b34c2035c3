"""Categories, products and their prices, variants, tiers and collections.

Money is an integer amount of minor units plus a lower-case ISO-4217 code, as Stripe holds it.
"""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q
from django.urls import reverse

from catalog.choices import (
    Interval,
    LicenseType,
    PriceType,
    ProductStatus,
    ProductType,
    TiersMode,
)
from core.models import AliveManager, TimeStampedModel
from core.money import format_money

currency_validator = RegexValidator(r"^[a-z]{3}$", "Use a lower-case ISO-4217 code, e.g. usd.")
CURRENCY_CHECK = Q(currency__regex=r"^[a-z]{3}$")

# PostgreSQL text-search configuration the stored vector and every query use.
SEARCH_CONFIG = "english"


class TagsText(Func):
    """``catalog_tags_text(tags)``: the tags joined by spaces.

    PostgreSQL's own ``array_to_string`` is only STABLE, so a generated column may not use it;
    the 0001 migration creates this IMMUTABLE wrapper (joining text is immutable in fact).
    """

    function = "catalog_tags_text"
    output_field = models.TextField()


def product_search_vector():
    """Weights: A name, B short description and tags, C description."""
    return (
        SearchVector("name", weight="A", config=SEARCH_CONFIG)
        + SearchVector("short_description", weight="B", config=SEARCH_CONFIG)
        + SearchVector(TagsText(F("tags")), weight="B", config=SEARCH_CONFIG)
        + SearchVector("description", weight="C", config=SEARCH_CONFIG)
    )


class Category(TimeStampedModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="category_not_own_parent"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:category", kwargs={"slug": self.slug})


class Product(TimeStampedModel):
    Status = ProductStatus
    Type = ProductType

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    short_description = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    type = models.CharField(
        max_length=20, choices=ProductType.choices, default=ProductType.ONE_TIME
    )
    categories = models.ManyToManyField(Category, blank=True, related_name="products")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    featured = models.BooleanField(default=False)
    # images: [{"url": "...", "alt": "..."}]; files: [{"name": "...", "url": "..."}]
    images = models.JSONField(default=list, blank=True)
    files = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    seo_title = models.CharField(max_length=200, blank=True)
    seo_description = models.CharField(max_length=320, blank=True)
    # A fraction: 0.2000 is 20 %. Applied by billing at checkout.
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.9999"))],
    )
    # The price checkout uses when the buyer picks none (as Stripe's product.default_price).
    default_price = models.ForeignKey(
        "Price", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # Digital goods
    download_file = models.ForeignKey(
        "accounts.StoredFile", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    download_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means unlimited downloads."
    )
    access_duration_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means lifetime access."
    )
    # Subscriptions
    trial_days = models.PositiveIntegerField(default=0)
    # Inventory
    track_inventory = models.BooleanField(default=False)
    stock_quantity = models.IntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(default=0)
    # CREDIT_PACK: credits added on purchase. Plans carry their own per-period amount.
    credits_granted = models.PositiveIntegerField(default=0)
    # The verified reviews' figures (the published rating), kept by catalog.services
    # (refresh_ratings) in the transaction that changes the reviews or verifies them, so lists
    # show and sort by them without aggregating reviews per row.
    rating_count = models.PositiveIntegerField(default=0)
    rating_average = models.FloatField(null=True, blank=True)

    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    stripe_product_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_synced_at = models.DateTimeField(null=True, blank=True)

    search_vector = models.GeneratedField(
        expression=product_search_vector(),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = AliveManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_product_id"],
                condition=Q(stripe_product_id__isnull=False),
                name="product_stripe_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lt=1), name="product_tax_rate_0_to_1"
            ),
            models.CheckConstraint(condition=Q(stock_quantity__gte=0), name="product_stock_gte_0"),
            models.CheckConstraint(
                condition=Q(download_limit__isnull=True) | Q(download_limit__gte=1),
                name="product_download_limit_gte_1",
            ),
            models.CheckConstraint(
                condition=~Q(status=ProductStatus.PUBLISHED) | Q(published_at__isnull=False),
                name="product_published_has_published_at",
            ),
            models.CheckConstraint(
                condition=Q(rating_count=0, rating_average__isnull=True)
                | Q(rating_count__gt=0, rating_average__gte=1, rating_average__lte=5),
                name="product_rating_figures",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "featured"], name="product_status_featured"),
            models.Index(fields=["type", "status"], name="product_type_status"),
            GinIndex(fields=["tags"], name="product_tags_gin"),
            GinIndex(fields=["search_vector"], name="product_search_gin"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:product", kwargs={"slug": self.slug})

    @property
    def is_visible(self) -> bool:
        return self.status == ProductStatus.PUBLISHED and self.deleted_at is None

    @property
    def low_on_stock(self) -> bool:
        return self.track_inventory and self.stock_quantity <= self.low_stock_threshold

    @property
    def primary_image(self) -> dict | None:
        return self.images[0] if self.images else None


class Price(TimeStampedModel):
    """How much a product costs. With ``tiers_mode`` set, the tiers decide and
    ``unit_amount`` is unused (as in Stripe's ``billing_scheme=tiered``)."""

    Type = PriceType
    Interval = Interval
    TiersMode = TiersMode

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    nickname = models.CharField(max_length=100, blank=True)
    unit_amount = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="usd", validators=[currency_validator])
    type = models.CharField(max_length=16, choices=PriceType.choices, default=PriceType.ONE_TIME)
    interval = models.CharField(max_length=8, choices=Interval.choices, null=True, blank=True)
    interval_count = models.PositiveSmallIntegerField(default=1)
    tiers_mode = models.CharField(max_length=16, choices=TiersMode.choices, null=True, blank=True)
    active = models.BooleanField(default=True)
    lookup_key = models.CharField(max_length=200, null=True, blank=True)
    stripe_price_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["product_id", "unit_amount", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_amount__gte=0), name="price_unit_amount_gte_0"),
            models.CheckConstraint(condition=CURRENCY_CHECK, name="price_currency_iso"),
            models.CheckConstraint(
                condition=Q(interval_count__gte=1), name="price_interval_count_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(type=PriceType.RECURRING, interval__isnull=False)
                | Q(type=PriceType.ONE_TIME, interval__isnull=True),
                name="price_interval_iff_recurring",
            ),
            models.UniqueConstraint(
                fields=["stripe_price_id"],
                condition=Q(stripe_price_id__isnull=False),
                name="price_stripe_id_unique",
            ),
            models.UniqueConstraint(
                fields=["lookup_key"],
                condition=Q(lookup_key__isnull=False),
                name="price_lookup_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["product", "active"], name="price_product_active")]

    def __str__(self):
        label = self.nickname or self.product.name
        if self.tiers_mode:
            return f"{label}: {self.get_tiers_mode_display()} tiers ({self.currency.upper()})"
        amount = format_money(self.unit_amount, self.currency)
        if self.type == PriceType.RECURRING:
            return f"{label}: {amount} / {self.interval_label}"
        return f"{label}: {amount}"

    def clean(self):
        if self.type == PriceType.RECURRING and not self.interval:
            raise ValidationError({"interval": "A recurring price needs an interval."})
        if self.type == PriceType.ONE_TIME and self.interval:
            raise ValidationError({"interval": "A one-time price has no interval."})

    @property
    def is_recurring(self) -> bool:
        return self.type == PriceType.RECURRING

    @property
    def interval_label(self) -> str:
        if not self.interval:
            return ""
        if self.interval_count == 1:
            return self.interval
        return f"{self.interval_count} {self.interval}s"


class Variant(TimeStampedModel):
    """A sellable version of a product (e.g. a licence tier) with its own SKU and price."""

    LicenseType = LicenseType

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=120)
    sku = models.CharField(max_length=64, unique=True)
    license_type = models.CharField(
        max_length=16, choices=LicenseType.choices, default=LicenseType.PERSONAL
    )
    seats = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means unlimited seats."
    )
    price_amount = models.BigIntegerField(validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="usd", validators=[currency_validator])
    available = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)
    stripe_price_id = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["product_id", "sort_order", "price_amount", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_amount__gte=0), name="variant_price_amount_gte_0"
            ),
            models.CheckConstraint(condition=CURRENCY_CHECK, name="variant_currency_iso"),
            models.UniqueConstraint(
                fields=["stripe_price_id"],
                condition=Q(stripe_price_id__isnull=False),
                name="variant_stripe_price_id_unique",
            ),
        ]

    def __str__(self):
        return f"{self.product.name} – {self.name} ({self.sku})"


class PricingTier(TimeStampedModel):
    """One row of a tiered price, as Stripe's ``tiers[]``: ``up_to`` empty means infinity."""

    price = models.ForeignKey(Price, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.PositiveIntegerField(null=True, blank=True)
    unit_amount = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    flat_amount = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])

    class Meta:
        ordering = [F("up_to").asc(nulls_last=True)]
        constraints = [
            models.CheckConstraint(condition=Q(unit_amount__gte=0), name="tier_unit_amount_gte_0"),
            models.CheckConstraint(condition=Q(flat_amount__gte=0), name="tier_flat_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(up_to__isnull=True) | Q(up_to__gte=1), name="tier_up_to_gte_1"
            ),
            # One tier per bound, and only one open-ended ("inf") tier per price.
            models.UniqueConstraint(
                fields=["price", "up_to"], nulls_distinct=False, name="tier_price_up_to_unique"
            ),
        ]

    def __str__(self):
        return f"up to {self.up_to or '∞'}"


class Collection(TimeStampedModel):
    """A curated, ordered set of products (e.g. "Staff picks")."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)
    products: "models.ManyToManyField[Product, CollectionItem]" = models.ManyToManyField(
        Product, through="CollectionItem", blank=True, related_name="collections"
    )

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:collection", kwargs={"slug": self.slug})


class CollectionItem(TimeStampedModel):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["collection_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "product"], name="collection_item_unique"
            ),
        ]

    def __str__(self):
        return f"{self.collection} #{self.position}: {self.product_id}"
