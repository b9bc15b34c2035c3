"""`manage.py seed_catalog`: a realistic catalog, idempotent, rebuildable."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from catalog.models import (
    Category,
    Collection,
    CollectionItem,
    Plan,
    Price,
    PricingTier,
    Product,
    Review,
    Variant,
)
from catalog.pricing import price_for_quantity
from catalog.seed_data import OPERATIONS
from catalog.selectors import visible_products

pytestmark = pytest.mark.django_db


def _seed(*args):
    out = io.StringIO()
    call_command("seed_catalog", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _counts():
    return {
        model.__name__: model._default_manager.count()
        for model in (
            Category,
            Product,
            Price,
            PricingTier,
            Variant,
            Collection,
            CollectionItem,
            Plan,
            Review,
        )
    } | {"users": User.objects.count()}


def test_seed_creates_plans_packs_products_and_reviews():
    output = _seed()
    assert "Catalog:" in output and "3 plans" in output

    plans = {p.slug: p for p in Plan.objects.select_related("monthly_price", "yearly_price")}
    assert {"free", "pro", "business"} <= set(plans)
    assert {p.billing_source for p in plans.values()} == {"stripe", "manual"}
    assert plans["business"].billing_source == "manual"
    for plan in plans.values():
        assert plan.product.type == "SUBSCRIPTION"
        assert plan.monthly_price.interval == "month" and plan.yearly_price.interval == "year"
        assert plan.monthly_price.currency == "usd" and plan.credits_per_period > 0
        assert set(plan.feature_cost_overrides) == set(OPERATIONS)
        assert plan.entitlements
        plan.full_clean()

    packs = visible_products().filter(type="CREDIT_PACK")
    assert packs.count() >= 2
    assert all(p.credits_granted > 0 and p.prices.filter(type="ONE_TIME").exists() for p in packs)

    assert visible_products().count() >= 20
    assert Category.objects.count() >= 5
    assert Variant.objects.count() > 0 and PricingTier.objects.count() > 0
    # Every picture is drawn here and served by the product itself, never another host.
    for product in visible_products():
        assert len(product.images) == 2
        for image in product.images:
            assert image["url"].startswith("/media/catalog/images/"), image
            served = Client().get(image["url"])
            assert served.status_code == 200 and served["Content-Type"] == "image/svg+xml"
            assert b"<svg" in b"".join(served.streaming_content)
    assert Review.objects.count() > 0 and not Review.objects.filter(verified=True).exists()
    reviewer = User.objects.get(email="reviewer1@demo.example")
    assert not reviewer.has_usable_password()
    assert Product.objects.filter(status="DRAFT").exists()  # the console has something to do


def test_seed_is_idempotent():
    _seed()
    first = _counts()
    _seed()
    assert _counts() == first


def test_seed_reset_rebuilds_the_catalog():
    _seed()
    first = _counts()
    Product.objects.filter(slug="prompt-writer-pro").update(name="Changed")
    Category.objects.create(name="Stray", slug="stray")
    output = _seed("--reset")
    assert "Deleted the existing catalog." in output
    assert _counts() == first
    assert Product.objects.get(slug="prompt-writer-pro").name == "Prompt Writer Pro"
    assert not Category.objects.filter(slug="stray").exists()


def test_seeded_tiered_prices_compute(django_assert_max_num_queries):
    _seed()
    seats = Price.objects.get(lookup_key="seat-pack-one-time")
    # graduated: 5 at $5, 5 at $4, then $3 each plus a $10 flat fee for the open tier
    assert price_for_quantity(seats, 12) == 2500 + 2000 + 600 + 1000
