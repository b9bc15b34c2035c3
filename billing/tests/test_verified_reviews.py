"""A review counts as a verified purchase only once the order is paid; the product page says
which reviews are verified and what the verified purchases rate it."""

import re

import pytest

from billing.models import Order
from billing.services import payments
from catalog.factories import ReviewFactory
from catalog.models import Review

pytestmark = pytest.mark.django_db


def _write_review(client, product, rating, title):
    page = client.get(product.get_absolute_url()).content.decode()
    # The review form as the product page renders it (its action, whatever its other
    # attributes).
    form = re.search(r'<form [^>]*class="card review-form"[^>]*>', page).group(0)
    action = re.search(r'action="([^"]+)"', form).group(1)
    return client.post(action, {"rating": str(rating), "title": title, "body": "Hm."})


def test_unpaid_order_review_is_not_verified_until_the_payment(
    no_stripe, product, customer, customer_client, customer_api, admin_user
):
    ReviewFactory(product=product, rating=5, verified=True)
    assert (
        customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code
        == 201
    )
    assert (
        customer_api.post(
            "/api/v1/checkout/", {"payment_method": "manual"}, format="json"
        ).status_code
        == 201
    )
    order = Order.objects.get(user=customer)
    assert _write_review(customer_client, product, 1, "Meh").status_code == 302
    review = Review.objects.get(author=customer)
    assert review.verified is False
    page = customer_client.get(product.get_absolute_url()).content.decode()
    verified = re.search(r'<p id="verified-summary">(.*?)</p>', page, re.S).group(1)
    assert "5.0</strong> out of 5 from 1 review" in verified  # the 1 star is not in it
    assert "Not verified" in page

    payments.mark_paid_manually(order_id=order.pk, actor=admin_user)
    review.refresh_from_db()
    assert review.verified is True
    page = customer_client.get(product.get_absolute_url()).content.decode()
    verified = re.search(r'<p id="verified-summary">(.*?)</p>', page, re.S).group(1)
    assert "3.0</strong> out of 5 from 2 reviews" in verified
