"""Helpful votes: once per user, never on one's own review, exact under concurrency."""

import threading

import pytest
from django.db import connection

from accounts.factories import UserFactory
from catalog import services
from catalog.factories import DraftProductFactory, ProductFactory, ReviewFactory
from catalog.models import Review, ReviewVote
from core.models import AuditLog

pytestmark = pytest.mark.django_db


def _url(review):
    return f"/api/v1/reviews/{review.pk}/helpful/"


def test_vote_counts_once_per_user(customer_api, customer):
    review = ReviewFactory()
    first = customer_api.post(_url(review))
    again = customer_api.post(_url(review))
    assert first.status_code == 200 and first.json() == {"helpful_votes": 1, "counted": True}
    assert again.status_code == 200 and again.json() == {"helpful_votes": 1, "counted": False}
    review.refresh_from_db()
    assert review.helpful_votes == 1
    assert ReviewVote.objects.filter(review=review, voter=customer).count() == 1
    assert AuditLog.objects.filter(resource_type="catalog.ReviewVote", actor=customer).count() == 1


def test_author_cannot_vote_for_own_review(customer_api, customer):
    review = ReviewFactory(author=customer)
    response = customer_api.post(_url(review))
    assert response.status_code == 400 and response.json()["code"] == "own_review"
    review.refresh_from_db()
    assert review.helpful_votes == 0 and not ReviewVote.objects.exists()


def test_vote_needs_login_and_a_visible_product(api_client, customer_api):
    review = ReviewFactory()
    assert api_client.post(_url(review)).status_code in (401, 403)
    hidden = ReviewFactory(product=DraftProductFactory())
    assert customer_api.post(_url(hidden)).status_code == 404
    assert customer_api.post("/api/v1/reviews/999999/helpful/").status_code == 404
    assert not ReviewVote.objects.exists()


def test_vote_through_the_page(customer_client):
    product = ProductFactory(slug="kit")
    review = ReviewFactory(product=product)
    html = customer_client.get("/catalog/kit/").content.decode()
    assert f"/catalog/kit/reviews/{review.pk}/helpful/" in html
    response = customer_client.post(f"/catalog/kit/reviews/{review.pk}/helpful/")
    assert response.status_code == 302
    assert response["Location"] == f"/catalog/kit/#review-{review.pk}"
    review.refresh_from_db()
    assert review.helpful_votes == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_are_counted_exactly():
    review = ReviewFactory()
    voters = [UserFactory() for _ in range(6)]
    barrier = threading.Barrier(len(voters) * 2)

    def vote(user):
        try:
            barrier.wait()
            services.mark_review_helpful(review=Review.objects.get(pk=review.pk), voter=user)
        finally:
            connection.close()

    # Every voter votes twice at the same moment: six distinct votes, six counted.
    threads = [threading.Thread(target=vote, args=(user,)) for user in voters * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    review.refresh_from_db()
    assert review.helpful_votes == 6
    assert ReviewVote.objects.filter(review=review).count() == 6
