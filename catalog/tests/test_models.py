import pytest
from django.db import IntegrityError, transaction

from catalog.factories import (
    CategoryFactory,
    PlanFactory,
    PriceFactory,
    PricingTierFactory,
    ProductFactory,
    ReviewFactory,
    VariantFactory,
)
from catalog.models import Product

pytestmark = pytest.mark.django_db


def _refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_stored_search_vector_follows_name_tags_and_descriptions():
    product = ProductFactory(name="Quantum Widget", tags=["gizmo"], description="sprocket")
    product.refresh_from_db()
    vector = str(product.search_vector)
    assert "'quantum':1A" in vector
    assert "'gizmo'" in vector and "'sprocket'" in vector
    Product.objects.filter(pk=product.pk).update(name="Photon Lamp")
    product.refresh_from_db()
    assert "photon" in str(product.search_vector)
    assert "quantum" not in str(product.search_vector)


def test_soft_deleted_products_hidden_by_default_manager():
    product = ProductFactory()
    Product.objects.filter(pk=product.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert not Product.objects.filter(pk=product.pk).exists()
    assert Product.all_objects.filter(pk=product.pk).exists()


def test_database_refuses_negative_amounts_and_bad_values():
    _refused(PriceFactory, unit_amount=-1)
    _refused(VariantFactory, price_amount=-5)
    _refused(PricingTierFactory, flat_amount=-1)
    _refused(ProductFactory, tax_rate=1)
    _refused(ProductFactory, tax_rate=-0.1)
    _refused(PriceFactory, currency="USD")
    _refused(PriceFactory, type="RECURRING", interval=None)


def test_database_refuses_duplicate_slugs_skus_and_stripe_ids():
    ProductFactory(slug="same", stripe_product_id="prod_1")
    _refused(ProductFactory, slug="same")
    _refused(ProductFactory, stripe_product_id="prod_1")
    ProductFactory(stripe_product_id=None)
    ProductFactory(stripe_product_id=None)  # several unset ids are fine
    VariantFactory(sku="A-1")
    _refused(VariantFactory, sku="A-1")
    PriceFactory(stripe_price_id="price_1")
    _refused(PriceFactory, stripe_price_id="price_1")
    CategoryFactory(slug="cat")
    _refused(CategoryFactory, slug="cat")
    PlanFactory(slug="pro")
    _refused(PlanFactory, slug="pro")


def test_database_refuses_rating_outside_1_to_5_and_second_review():
    review = ReviewFactory(rating=3)
    _refused(ReviewFactory, rating=0)
    _refused(ReviewFactory, rating=6)
    _refused(ReviewFactory, product=review.product, author=review.author)


def test_only_one_open_ended_tier_per_price():
    tier = PricingTierFactory(up_to=None)
    _refused(PricingTierFactory, price=tier.price, up_to=None)
