"""Changes to the catalog. Each is one transaction and writes its audit row inside it."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, FloatField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import authority
from accounts.models import User
from catalog import purchases
from catalog.models import Price, Product, ProductStatus, Review, ReviewVote, Variant
from catalog.public_cache import catalog_changed
from catalog.selectors import visible_products
from core.api import DomainError, NotFound
from core.audit import record
from core.models import AuditAction


class AlreadyReviewed(DomainError):
    code = "already_reviewed"
    default_message = "You have already reviewed this product."


class OwnReview(DomainError):
    code = "own_review"
    default_message = "You cannot vote for your own review."


class InvalidRating(DomainError):
    code = "invalid_rating"
    default_message = "A rating is a whole number from 1 to 5."


def _locked(product: Product) -> Product:
    # all_objects: staff may act on a soft-deleted product from the console.
    return Product.all_objects.select_for_update().get(pk=product.pk)


def _set_status(*, product: Product, status: str, actor: User) -> Product:
    authority.require(actor, "catalog.manage")
    with transaction.atomic():
        locked = _locked(product)
        old = {"status": locked.status, "published_at": locked.published_at}
        if locked.status == status:
            return locked
        locked.status = status
        fields = ["status", "updated_at"]
        if status == ProductStatus.PUBLISHED:
            # The first publication date stays: re-publishing an archived product keeps it.
            locked.published_at = locked.published_at or timezone.now()
            fields.append("published_at")
        locked.save(update_fields=fields)
        record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=locked,
            old=old,
            new={"status": locked.status, "published_at": locked.published_at},
        )
        catalog_changed()
    return locked


def publish_product(*, product: Product, actor: User) -> Product:
    """Make the product visible to customers; sets ``published_at`` the first time.
    Locks the product row. Safe to call twice (the second call changes nothing)."""
    return _set_status(product=product, status=ProductStatus.PUBLISHED, actor=actor)


def archive_product(*, product: Product, actor: User) -> Product:
    """Hide the product from customers (existing orders keep pointing at it). Idempotent."""
    return _set_status(product=product, status=ProductStatus.ARCHIVED, actor=actor)


def unpublish_product(*, product: Product, actor: User) -> Product:
    """Back to DRAFT. Idempotent."""
    return _set_status(product=product, status=ProductStatus.DRAFT, actor=actor)


def set_featured(*, product: Product, featured: bool, actor: User) -> Product:
    """Feature or unfeature a product. Idempotent."""
    authority.require(actor, "catalog.manage")
    with transaction.atomic():
        locked = _locked(product)
        if locked.featured == featured:
            return locked
        old = {"featured": locked.featured}
        locked.featured = featured
        locked.save(update_fields=["featured", "updated_at"])
        record(
            actor=actor,
            action=AuditAction.UPDATE,
            resource=locked,
            old=old,
            new={"featured": featured},
        )
        catalog_changed()
    return locked


def soft_delete_product(*, product: Product, actor: User) -> Product:
    """Set ``deleted_at``: the product disappears everywhere but its rows (and every order
    pointing at them) stay. Idempotent."""
    authority.require(actor, "catalog.manage")
    with transaction.atomic():
        locked = _locked(product)
        if locked.deleted_at is not None:
            return locked
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at", "updated_at"])
        record(
            actor=actor,
            action=AuditAction.DELETE,
            resource=locked,
            old={"deleted_at": None},
            new={"deleted_at": locked.deleted_at},
        )
        catalog_changed()
    return locked


def restore_product(*, product: Product, actor: User) -> Product:
    authority.require(actor, "catalog.manage")
    with transaction.atomic():
        locked = _locked(product)
        if locked.deleted_at is None:
            return locked
        old = {"deleted_at": locked.deleted_at}
        locked.deleted_at = None
        locked.save(update_fields=["deleted_at", "updated_at"])
        record(
            actor=actor,
            action=AuditAction.UPDATE,
            resource=locked,
            old=old,
            new={"deleted_at": None},
            reason="restored",
        )
        catalog_changed()
    return locked


def _free_slug(base: str) -> str:
    candidate, n = f"{base}-copy", 2
    while Product.all_objects.filter(slug=candidate).exists():
        candidate, n = f"{base}-copy-{n}", n + 1
    return candidate[:220]


def _free_sku(base: str) -> str:
    candidate, n = f"{base}-COPY", 2
    while Variant.objects.filter(sku=candidate).exists():
        candidate, n = f"{base}-COPY{n}", n + 1
    return candidate[:64]


def duplicate_product(*, product: Product, actor: User) -> Product:
    """A DRAFT copy with its categories, prices (and tiers) and variants, under a free slug
    and SKUs. Stripe ids are not copied: the copy is a different Stripe product. Not
    idempotent by design: each call makes one more copy."""
    authority.require(actor, "catalog.manage")
    with transaction.atomic():
        source = Product.all_objects.prefetch_related(
            "categories", "prices__tiers", "variants"
        ).get(pk=product.pk)
        copy = Product.all_objects.get(pk=source.pk)
        copy.pk = copy.id = None
        copy._state.adding = True
        copy.name = f"{source.name} (copy)"[:200]
        copy.slug = _free_slug(source.slug)
        copy.status = ProductStatus.DRAFT
        copy.featured = False
        copy.published_at = None
        copy.deleted_at = None
        copy.stripe_product_id = None
        copy.stripe_synced_at = None
        copy.default_price = None
        copy.rating_count, copy.rating_average = 0, None  # the reviews stay with the source
        copy.save()
        copy.categories.set(source.categories.all())
        for price in source.prices.all():
            tiers = list(price.tiers.all())
            new_price = Price.objects.get(pk=price.pk)
            new_price.pk = new_price.id = None
            new_price._state.adding = True
            new_price.product = copy
            new_price.stripe_price_id = None
            new_price.stripe_synced_at = None
            new_price.lookup_key = None
            new_price.save()
            if source.default_price_id == price.pk:
                copy.default_price = new_price
            for tier in tiers:
                tier.pk = tier.id = None
                tier._state.adding = True
                tier.price = new_price
                tier.save()
        for variant in source.variants.all():
            variant.pk = variant.id = None
            variant._state.adding = True
            variant.product = copy
            variant.sku = _free_sku(variant.sku)
            variant.stripe_price_id = None
            variant.save()
        if copy.default_price_id:
            copy.save(update_fields=["default_price"])
        record(
            actor=actor,
            action=AuditAction.CREATE,
            resource=copy,
            new={"slug": copy.slug, "status": copy.status},
            duplicated_from=source.pk,
        )
    return copy


def _has_completed_order(*, user: User, product: Product) -> bool:
    """Whether ``user`` paid for ``product`` (billing answers: catalog.purchases)."""
    return purchases.verified_purchase(user=user, product=product)


def create_review(
    *, author: User, product: Product, rating: object, title: str = "", body: str = ""
) -> Review:
    """Write ``author``'s one review of a visible ``product`` and update the product's rating
    figures in the same transaction.

    ``verified`` is decided here from the author's completed orders; nothing the author sends
    can set it. Locks the product row (``refresh_ratings``). Raises NotFound (product not
    visible), InvalidRating, AlreadyReviewed (also when a concurrent request wins the unique
    constraint). Not idempotent: a second call raises AlreadyReviewed.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidRating(fields={"rating": [InvalidRating.default_message]})
    if not visible_products().filter(pk=product.pk).exists():
        raise NotFound("Product not found.")
    if Review.objects.filter(author=author, product=product).exists():
        raise AlreadyReviewed()
    verified = _has_completed_order(user=author, product=product)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                author=author,
                product=product,
                rating=rating,
                title=title.strip(),
                body=body.strip(),
                verified=verified,
            )
            refresh_ratings(product_ids=[product.pk])
            record(
                actor=author,
                action=AuditAction.CREATE,
                resource=review,
                new={"product": product.pk, "rating": rating, "verified": verified},
            )
    except IntegrityError as exc:
        if Review.objects.filter(author=author, product=product).exists():
            raise AlreadyReviewed() from exc
        raise
    return review


def verify_reviews(*, user: User, product_ids: Iterable[int]) -> int:
    """``user`` has now paid for these products: their reviews of them become verified
    purchases (inside the payment's transaction); returns how many changed."""
    changed = list(
        Review.objects.filter(author=user, product_id__in=product_ids, verified=False).values_list(
            "pk", "product_id"
        )
    )
    if not changed:
        return 0
    Review.objects.filter(pk__in=[pk for pk, _ in changed]).update(verified=True)
    refresh_ratings(product_ids=[product_id for _, product_id in changed])
    for pk, _ in changed:
        record(
            actor=None,
            action=AuditAction.UPDATE,
            resource_type="catalog.Review",
            resource_id=pk,
            old={"verified": False},
            new={"verified": True},
            operation="review_verified_by_payment",
        )
    return len(changed)


def refresh_ratings(*, product_ids: Iterable[int]) -> int:
    """Set ``rating_count`` and ``rating_average`` of these products from their verified
    reviews (by customers who paid for the product: what pages, lists, the API and the
    ``rating`` ordering publish; an unverified review is listed but moves neither); returns
    how many products it updated. Call it in the transaction that changed the reviews or
    verified them, after the change. Locks the product rows first (FOR NO KEY UPDATE, in primary
    key order; a review's insert already holds a key-share lock on its product, which this
    does not wait for), then counts in a statement of its own: a concurrent change of the
    same product's reviews waits for the lock and counts this one. Safe to call twice."""
    ids = sorted(set(product_ids))
    with transaction.atomic(savepoint=False):
        list(
            Product.all_objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        updated = _update_ratings(ids)
    catalog_changed()
    return updated


def _update_ratings(ids: list[int]) -> int:
    reviews = (
        Review.objects.filter(product=OuterRef("pk"), verified=True).order_by().values("product")
    )
    return Product.all_objects.filter(pk__in=ids).update(
        rating_count=Coalesce(Subquery(reviews.annotate(n=Count("id")).values("n")), 0),
        rating_average=Subquery(
            reviews.annotate(average=Avg("rating")).values("average"), output_field=FloatField()
        ),
    )


def mark_review_helpful(*, review: Review, voter: User) -> tuple[Review, bool]:
    """Count ``voter``'s "helpful" vote on ``review`` once; returns (review, counted now).

    The unique (review, voter) row decides who voted; the counter moves with an F()
    update in the same transaction, so concurrent votes never lose or double a count.
    Safe to call twice: the second call counts nothing. Raises NotFound when the review's
    product is not visible, OwnReview for the author's own review.
    """
    if not visible_products().filter(pk=review.product_id).exists():
        raise NotFound("Review not found.")
    if review.author_id == voter.pk:
        raise OwnReview()
    try:
        with transaction.atomic():
            vote = ReviewVote.objects.create(review=review, voter=voter)
            Review.objects.filter(pk=review.pk).update(helpful_votes=F("helpful_votes") + 1)
            record(actor=voter, action=AuditAction.CREATE, resource=vote, new={"review": review.pk})
    except IntegrityError:
        if not ReviewVote.objects.filter(review=review, voter=voter).exists():
            raise
        counted = False
    else:
        counted = True
    review.refresh_from_db(fields=["helpful_votes"])
    return review, counted
