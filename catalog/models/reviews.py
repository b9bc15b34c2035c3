"""Customer reviews of products and the "helpful" votes on them."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from catalog.models.products import Product
from core.models import TimeStampedModel


class Review(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    # Set by catalog.services.create_review from the author's completed orders, never by them.
    verified = models.BooleanField(default=False)
    helpful_votes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(helpful_votes__gte=0), name="review_helpful_votes_gte_0"
            ),
            models.UniqueConstraint(
                fields=["author", "product"], name="review_one_per_author_product"
            ),
        ]
        indexes = [models.Index(fields=["product", "-created_at"], name="review_product_recent")]

    def __str__(self):
        return f"{self.rating}★ {self.product_id} by {self.author_id}"


class ReviewVote(TimeStampedModel):
    """One "helpful" vote by one user on one review; ``Review.helpful_votes`` counts them."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_votes"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "voter"], name="review_vote_once"),
        ]

    def __str__(self):
        return f"{self.voter_id} found review {self.review_id} helpful"
