"""What the business sells: categories, products and their prices, variants, tiers,
collections, the plans the pricing page shows, and customer reviews.

Money is an integer amount of minor units plus a lower-case ISO-4217 code, as Stripe holds it.

The models live by topic in this package (``products``, ``plans``, ``reviews``); each is
importable from ``catalog.models``, and so are the fields' choices (``catalog.choices``).
"""

from catalog.choices import (
    BillingSource,
    CtaType,
    Interval,
    LicenseType,
    PriceType,
    ProductStatus,
    ProductType,
    TiersMode,
)
from catalog.models.plans import Plan, download_entitlement
from catalog.models.products import (
    CURRENCY_CHECK,
    SEARCH_CONFIG,
    Category,
    Collection,
    CollectionItem,
    Price,
    PricingTier,
    Product,
    TagsText,
    Variant,
    currency_validator,
    product_search_vector,
)
from catalog.models.reviews import Review, ReviewVote

__all__ = [
    "BillingSource",
    "CtaType",
    "Interval",
    "LicenseType",
    "PriceType",
    "ProductStatus",
    "ProductType",
    "TiersMode",
    "CURRENCY_CHECK",
    "SEARCH_CONFIG",
    "TagsText",
    "currency_validator",
    "product_search_vector",
    "Category",
    "Product",
    "Price",
    "Variant",
    "PricingTier",
    "Collection",
    "CollectionItem",
    "Plan",
    "download_entitlement",
    "Review",
    "ReviewVote",
]
