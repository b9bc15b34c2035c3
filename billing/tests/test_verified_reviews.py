"""A review counts as a verified purchase only once the order is paid; the product's published
rating (its page, the list, the API and the ``rating`` ordering) counts only verified reviews,
and an unverified review is listed, marked "Not verified"."""

import re

import pytest

from billing.models import Invoice, Order
from billing.services import payments
from billing.services.invoices import mark_invoice_paid
from catalog.factories import PriceFactory, ProductFactory, ReviewFactory
from catalog.models import Review
from catalog.services import create_review
from tests.staff_authority_table import open_invoice

pytestmark = pytest.mark.django_db


def _write_review(client, product, rating, title):
    page = client.get(product.get_absolute_url()).content.decode()
    # The review form as the product page renders it (its action, whatever its other
    # attributes).
    form = re.search(r'<form [^>]*class="card review-form"[^>]*>', page).group(0)
    action = re.search(r'action="([^"]+)"', form).group(1)
    return client.post(action, {"rating": str(rating), "title": title, "body": "Hm."})


def _published(api, product) -> tuple[dict, dict]:
    """The product's rating in the list and its summary on the detail, as the API shows them."""
    [row] = [r for r in api.get("/api/v1/products/").json()["results"] if r["id"] == product.pk]
    detail = api.get(f"/api/v1/products/{product.slug}/").json()
    return row["rating"], detail["rating_summary"]


def test_unpaid_order_review_is_not_verified_until_the_payment(
    no_stripe, product, customer, customer_client, customer_api, api_client, admin_user
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
    assert "Not verified" in page and "5.0 out of 5 from 1 verified review" in page
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    assert (product.rating_count, product.rating_average) == (1, 5.0)
    rating, summary = _published(api_client, product)
    assert rating == {"average": 5.0, "count": 1}
    assert (summary["average"], summary["count"], summary["unverified_count"]) == (5.0, 1, 1)
    assert summary["distribution"]["1"] == 0

    payments.mark_paid_manually(order_id=order.pk, actor=admin_user)
    review.refresh_from_db()
    assert review.verified is True
    page = customer_client.get(product.get_absolute_url()).content.decode()
    verified = re.search(r'<p id="verified-summary">(.*?)</p>', page, re.S).group(1)
    assert "3.0</strong> out of 5 from 2 reviews" in verified
    assert "3.0 out of 5 from 2 verified reviews" in page and "unverified-summary" not in page
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    assert (product.rating_count, product.rating_average) == (2, 3.0)
    rating, summary = _published(api_client, product)
    assert rating == {"average": 3.0, "count": 2}
    assert (summary["average"], summary["count"], summary["unverified_count"]) == (3.0, 2, 0)


def test_the_rating_ordering_follows_the_verified_average(no_stripe, client):
    paid_for = ProductFactory(slug="paid-for", name="Paid for")
    unpaid_praise = ProductFactory(slug="unpaid", name="Unpaid praise")
    PriceFactory(product=paid_for)
    PriceFactory(product=unpaid_praise)
    ReviewFactory(product=paid_for, rating=3, verified=True)
    ReviewFactory(product=unpaid_praise, rating=5)  # unverified: no published rating
    ReviewFactory(product=paid_for, rating=1)  # unverified: does not lower the 3
    page = client.get("/catalog/", {"sort": "rating"}).content.decode()
    assert page.index("Paid for") < page.index("Unpaid praise")
    assert "3.0 out of 5 (1 verified review)" in page
    unpaid_praise.refresh_from_db()
    assert (unpaid_praise.rating_count, unpaid_praise.rating_average) == (0, None)


def test_a_subscribers_review_is_verified_when_the_subscription_invoice_is_paid(
    no_stripe, customer, admin_user, django_capture_on_commit_callbacks
):
    invoice = open_invoice(customer, 7900)
    product = invoice.subscription.plan.product
    ReviewFactory(product=product, rating=5, verified=True)
    review = create_review(author=customer, product=product, rating=1)
    assert review.verified is False
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    assert (product.rating_count, product.rating_average) == (1, 5.0)

    with django_capture_on_commit_callbacks(execute=True):
        mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user, reference="BANK-REVIEW-1")
    review.refresh_from_db()
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    assert review.verified is True
    assert (product.rating_count, product.rating_average) == (2, 3.0)


def test_a_free_subscription_invoice_verifies_nothing(no_stripe, customer):
    invoice = open_invoice(customer, 0)
    Invoice.objects.filter(pk=invoice.pk).update(status="PAID")
    product = invoice.subscription.plan.product
    assert create_review(author=customer, product=product, rating=4).verified is False


def test_a_stripe_subscriber_who_paid_writes_a_verified_review(paid, customer):
    product = paid.subscription.plan.product
    review = create_review(author=customer, product=product, rating=4)
    assert review.verified is True
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    assert (product.rating_count, product.rating_average) == (1, 4.0)
