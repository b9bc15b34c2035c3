"""The "reviews" section of a customer's data export: the reviews they wrote and the reviews
they marked helpful, read a chunk of rows at a time (accounts.data_export.rows)."""

from accounts.data_export import rows
from catalog.models import Review, ReviewVote


def _review(r) -> dict:
    return {
        "product": r.product.name,
        "product_slug": r.product.slug,
        "rating": r.rating,
        "title": r.title,
        "body": r.body,
        "verified_purchase": r.verified,
        "helpful_votes": r.helpful_votes,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _vote(v) -> dict:
    return {
        "review_id": v.review_id,
        "product_slug": v.review.product.slug,
        "created_at": v.created_at,
    }


def reviews_section(user) -> dict:
    return {
        "written": rows(
            Review.objects.filter(author=user)
            .select_related("product")
            .order_by("created_at", "id"),
            _review,
        ),
        "marked_helpful": rows(
            ReviewVote.objects.filter(voter=user)
            .select_related("review__product")
            .order_by("created_at", "id"),
            _vote,
        ),
    }
