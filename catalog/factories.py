"""factory-boy factories for every catalog model (other apps' tests use them too)."""

import factory
from django.utils import timezone

from accounts.factories import UserFactory
from catalog.models import (
    Category,
    Collection,
    CollectionItem,
    Interval,
    Plan,
    Price,
    PriceType,
    PricingTier,
    Product,
    ProductStatus,
    ProductType,
    Review,
    ReviewVote,
    Variant,
)
from catalog.services import refresh_ratings


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    """A PUBLISHED one-time product; pass ``status=ProductStatus.DRAFT`` for a draft."""

    class Meta:
        model = Product
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    short_description = "A useful thing."
    description = "Longer words about the useful thing."
    status = ProductStatus.PUBLISHED
    type = ProductType.ONE_TIME
    published_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == ProductStatus.PUBLISHED else None
    )

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.categories.set(extracted)


class DraftProductFactory(ProductFactory):
    status = ProductStatus.DRAFT


class SubscriptionProductFactory(ProductFactory):
    type = ProductType.SUBSCRIPTION


class CreditPackFactory(ProductFactory):
    type = ProductType.CREDIT_PACK
    credits_granted = 100


class PriceFactory(factory.django.DjangoModelFactory):
    """A one-time price of $19.00; see RecurringPriceFactory for subscriptions."""

    class Meta:
        model = Price

    product = factory.SubFactory(ProductFactory)
    unit_amount = 1900
    currency = "usd"
    type = PriceType.ONE_TIME


class RecurringPriceFactory(PriceFactory):
    product = factory.SubFactory(SubscriptionProductFactory)
    type = PriceType.RECURRING
    interval = Interval.MONTH
    interval_count = 1


class PricingTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PricingTier

    price = factory.SubFactory(PriceFactory, tiers_mode=Price.TiersMode.GRADUATED)
    up_to = None
    unit_amount = 100
    flat_amount = 0


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    name = "Personal licence"
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    license_type = Variant.LicenseType.PERSONAL
    price_amount = 4900
    currency = "usd"


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collection

    name = factory.Sequence(lambda n: f"Collection {n}")
    slug = factory.Sequence(lambda n: f"collection-{n}")


class CollectionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectionItem

    collection = factory.SubFactory(CollectionFactory)
    product = factory.SubFactory(ProductFactory)
    position = factory.Sequence(lambda n: n)


class PlanFactory(factory.django.DjangoModelFactory):
    """An active Stripe-billed plan with a $10/month and $100/year price."""

    class Meta:
        model = Plan

    product = factory.SubFactory(SubscriptionProductFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")
    slug = factory.Sequence(lambda n: f"plan-{n}")
    monthly_price = factory.SubFactory(
        RecurringPriceFactory,
        product=factory.SelfAttribute("..product"),
        unit_amount=1000,
        interval=Interval.MONTH,
    )
    yearly_price = factory.SubFactory(
        RecurringPriceFactory,
        product=factory.SelfAttribute("..product"),
        unit_amount=10000,
        interval=Interval.YEAR,
    )
    credits_per_period = 1000
    entitlements = factory.LazyFunction(lambda: ["api_access"])
    feature_cost_overrides = factory.LazyFunction(dict)
    billing_source = Plan.BillingSource.STRIPE


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    author = factory.SubFactory(UserFactory)
    rating = 5
    title = "Great"
    body = "Does what it says."

    @factory.post_generation
    def product_figures(obj, create, extracted, **kwargs):
        # The product's rating figures, as catalog.services.create_review leaves them.
        if create:
            refresh_ratings(product_ids=[obj.product_id])


class ReviewVoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewVote

    review = factory.SubFactory(ReviewFactory)
    voter = factory.SubFactory(UserFactory)
