"""A review by a customer who has not paid yet, in a real browser: it is listed and marked
"Not verified", the product's published rating does not move; once finance records the
payment, the review is verified and the rating counts it."""

import pytest
from playwright.sync_api import expect

from accounts.factories import AdminFactory, UserFactory
from billing.models import Order
from billing.services import payments
from catalog.factories import PriceFactory, ProductFactory, ReviewFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_stripe_keys(settings):
    settings.STRIPE = {
        "secret_key": "",
        "publishable_key": "",
        "webhook_secret": "",
        "api_base": "",
        "live_mode": False,
    }


def test_an_unpaid_customers_review_does_not_move_the_rating_until_paid(
    page, logged_in, no_stripe_keys
):
    shots = page.shots
    product = ProductFactory(name="Field Recorder", slug="field-recorder")
    PriceFactory(product=product, unit_amount=4900)
    ReviewFactory(product=product, rating=5, title="Superb", verified=True)
    customer = UserFactory(email="unpaid.reviewer@example.com", first_name="Uma")
    logged_in(page, customer)

    # An order placed, to pay by bank transfer: not paid yet.
    page.goto("/catalog/field-recorder/")
    expect(page.locator("#product-rating")).to_contain_text("5.0 out of 5 from 1 verified review")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Check out").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    order = Order.objects.get(user=customer)

    page.goto("/catalog/field-recorder/")
    form = page.locator("#write-review")
    form.locator('input[name="rating"][value="1"]').check()
    form.get_by_label("Title").fill("Broke on day one")
    page.get_by_role("button", name="Publish review").click()
    page.wait_for_load_state()
    review = page.locator("article.review", has_text="Broke on day one")
    expect(review).to_contain_text("Not verified")
    expect(page.locator("#product-rating")).to_contain_text("5.0 out of 5 from 1 verified review")
    expect(page.locator("#verified-summary")).to_contain_text("5.0 out of 5 from 1 review")
    expect(page.locator("#unverified-summary")).to_contain_text(
        "1 review marked “Not verified” is listed below but not counted in the rating."
    )
    shots("unverified-review")

    # Finance records the bank transfer: the review is verified and counted.
    payments.mark_paid_manually(order_id=order.pk, actor=AdminFactory())
    page.reload()
    expect(review).to_contain_text("Verified purchase")
    expect(page.locator("#product-rating")).to_contain_text("3.0 out of 5 from 2 verified reviews")
    expect(page.locator("#unverified-summary")).to_have_count(0)
    shots("verified-review")
