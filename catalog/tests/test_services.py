"""Publishing, featuring, duplicating and reviewing, with their audit rows."""

import threading

import pytest
from django.db import connection

from accounts.factories import UserFactory
from billing.factories import OrderFactory, OrderItemFactory
from catalog import services
from catalog.factories import (
    CategoryFactory,
    DraftProductFactory,
    PriceFactory,
    PricingTierFactory,
    ProductFactory,
    ReviewFactory,
    VariantFactory,
)
from catalog.models import Product, ProductStatus, Review
from catalog.selectors import rating_summary
from core.api import NotFound
from core.models import AuditLog

pytestmark = pytest.mark.django_db


def _audit(product, action):
    return AuditLog.objects.filter(
        resource_type="catalog.Product", resource_id=str(product.pk), action=action
    )


def test_publish_sets_published_at_and_is_audited(admin_user):
    product = DraftProductFactory()
    assert product.published_at is None
    services.publish_product(product=product, actor=admin_user)
    product.refresh_from_db()
    assert product.status == ProductStatus.PUBLISHED
    assert product.published_at is not None
    row = _audit(product, "STATUS_CHANGE").get()
    assert row.actor == admin_user
    assert row.old_values["status"] == "DRAFT" and row.new_values["status"] == "PUBLISHED"


def test_publish_twice_changes_nothing_the_second_time(admin_user):
    product = DraftProductFactory()
    services.publish_product(product=product, actor=admin_user)
    product.refresh_from_db()
    first = product.published_at
    services.publish_product(product=product, actor=admin_user)
    product.refresh_from_db()
    assert product.published_at == first
    assert _audit(product, "STATUS_CHANGE").count() == 1


def test_archive_then_republish_keeps_first_publication_date(admin_user):
    product = ProductFactory()
    first = product.published_at
    services.archive_product(product=product, actor=admin_user)
    product.refresh_from_db()
    assert product.status == ProductStatus.ARCHIVED
    services.publish_product(product=product, actor=admin_user)
    product.refresh_from_db()
    assert product.published_at == first


def test_feature_and_unfeature_are_audited(admin_user):
    product = ProductFactory(featured=False)
    services.set_featured(product=product, featured=True, actor=admin_user)
    product.refresh_from_db()
    assert product.featured
    services.set_featured(product=product, featured=False, actor=admin_user)
    product.refresh_from_db()
    assert not product.featured
    assert _audit(product, "UPDATE").count() == 2


def test_soft_delete_hides_and_restore_brings_back(admin_user):
    product = ProductFactory()
    services.soft_delete_product(product=product, actor=admin_user)
    assert not Product.objects.filter(pk=product.pk).exists()
    assert Product.all_objects.get(pk=product.pk).deleted_at is not None
    services.restore_product(product=product, actor=admin_user)
    assert Product.objects.filter(pk=product.pk).exists()
    assert _audit(product, "DELETE").count() == 1


def test_duplicate_copies_prices_tiers_variants_and_categories_as_a_draft(admin_user):
    category = CategoryFactory()
    product = ProductFactory(
        slug="kit", categories=[category], featured=True, stripe_product_id="prod_123"
    )
    price = PriceFactory(
        product=product, tiers_mode="graduated", stripe_price_id="price_1", lookup_key="kit-std"
    )
    PricingTierFactory(price=price, up_to=5, unit_amount=500)
    PricingTierFactory(price=price, up_to=None, unit_amount=400)
    Product.objects.filter(pk=product.pk).update(default_price=price)
    VariantFactory(product=product, sku="KIT-P")

    copy = services.duplicate_product(product=product, actor=admin_user)
    second = services.duplicate_product(product=product, actor=admin_user)

    copy.refresh_from_db()
    assert (copy.slug, second.slug) == ("kit-copy", "kit-copy-2")
    assert copy.status == ProductStatus.DRAFT and copy.published_at is None
    assert not copy.featured and copy.stripe_product_id is None
    assert list(copy.categories.all()) == [category]
    new_price = copy.prices.get()
    assert new_price.pk != price.pk and new_price.stripe_price_id is None
    assert new_price.lookup_key is None
    assert copy.default_price == new_price
    assert [(t.up_to, t.unit_amount) for t in new_price.tiers.order_by("up_to")] == [
        (5, 500),
        (None, 400),
    ]
    assert copy.variants.get().sku == "KIT-P-COPY"
    assert second.variants.get().sku == "KIT-P-COPY2"
    # The original is untouched.
    product.refresh_from_db()
    assert product.status == ProductStatus.PUBLISHED and product.prices.count() == 1
    assert _audit(copy, "CREATE").get().context["duplicated_from"] == product.pk


def test_create_review_writes_an_unverified_review_without_a_completed_order(customer):
    product = ProductFactory()
    review = services.create_review(
        author=customer, product=product, rating=4, title=" Nice ", body="Good."
    )
    review.refresh_from_db()
    assert (review.rating, review.title, review.verified) == (4, "Nice", False)
    assert AuditLog.objects.filter(
        resource_type="catalog.Review", resource_id=str(review.pk)
    ).exists()


def test_second_review_by_the_same_author_is_refused(customer):
    product = ProductFactory()
    services.create_review(author=customer, product=product, rating=4)
    with pytest.raises(services.AlreadyReviewed):
        services.create_review(author=customer, product=product, rating=2)
    assert Review.objects.get(product=product).rating == 4


@pytest.mark.parametrize("rating", [0, 6, -1, 2.5, True, "5", None])
def test_rating_outside_1_to_5_is_refused(customer, rating):
    product = ProductFactory()
    with pytest.raises(services.InvalidRating):
        services.create_review(author=customer, product=product, rating=rating)
    assert not Review.objects.exists()


def test_draft_product_cannot_be_reviewed(customer):
    product = DraftProductFactory()
    with pytest.raises(NotFound):
        services.create_review(author=customer, product=product, rating=5)
    assert not Review.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_by_one_author_make_exactly_one():
    author = UserFactory()
    product = ProductFactory()
    barrier = threading.Barrier(4)
    outcomes = []

    def write():
        try:
            barrier.wait()
            services.create_review(author=author, product=product, rating=5)
            outcomes.append("created")
        except services.AlreadyReviewed:
            outcomes.append("already_reviewed")
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_reviewed"] * 3 + ["created"]
    assert Review.objects.filter(author=author, product=product).count() == 1


def test_rating_summary_publishes_only_verified_reviews():
    product = ProductFactory()
    for rating, verified in ((5, True), (5, False), (4, True), (1, False)):
        ReviewFactory(product=product, rating=rating, verified=verified)
    ReviewFactory(rating=3)  # another product's review does not count
    assert rating_summary(product) == {
        "average": 4.5,
        "count": 2,
        "distribution": {1: 0, 2: 0, 3: 0, 4: 1, 5: 1},
        "verified_count": 2,
        "verified_average": 4.5,
        "unverified_count": 2,
    }
    assert rating_summary(ProductFactory()) == {
        "average": None,
        "count": 0,
        "distribution": {1: 0, 2: 0, 3: 0, 4: 0, 5: 0},
        "verified_count": 0,
        "verified_average": None,
        "unverified_count": 0,
    }


def _completed_order(user, product, status="COMPLETED"):
    order = OrderFactory(user=user, status=status)
    OrderItemFactory(order=order, product=product)
    return order


def test_review_is_verified_when_the_author_has_a_completed_order(customer):
    product = ProductFactory()
    _completed_order(customer, product)
    review = services.create_review(author=customer, product=product, rating=5)
    review.refresh_from_db()
    assert review.verified is True


def test_review_is_not_verified_for_pending_or_other_peoples_orders(customer, other_customer):
    product = ProductFactory()
    _completed_order(customer, product, status="PENDING")
    _completed_order(other_customer, product)
    _completed_order(customer, ProductFactory())  # a completed order of another product
    review = services.create_review(author=customer, product=product, rating=5)
    review.refresh_from_db()
    assert review.verified is False
