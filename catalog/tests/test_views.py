"""Customer pages: list, detail, category, collection, pricing, writing a review."""

import pytest
from django.core.management import call_command

from catalog.factories import (
    CategoryFactory,
    CollectionFactory,
    CollectionItemFactory,
    DraftProductFactory,
    PlanFactory,
    PriceFactory,
    PricingTierFactory,
    ProductFactory,
    ReviewFactory,
    VariantFactory,
)
from catalog.models import Review

pytestmark = pytest.mark.django_db


def _html(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_catalog_list_shows_products_with_formatted_prices(client):
    product = ProductFactory(name="Quantum Widget", slug="widget")
    PriceFactory(product=product, unit_amount=1999)
    html = _html(client.get("/catalog/"))
    assert "Quantum Widget" in html and "$19.99" in html
    assert 'href="/catalog/widget/"' in html
    assert '<label for="id_q">Search</label>' in html


def test_catalog_list_search_filters_and_empty_state(client):
    ProductFactory(name="Quantum Widget", tags=["gizmo"], type="SERVICE")
    ProductFactory(name="Desk Lamp")
    html = _html(client.get("/catalog/", {"q": "quantum"}))
    assert "Quantum Widget" in html and "Desk Lamp" not in html
    html = _html(client.get("/catalog/", {"tag": "gizmo"}))
    assert "Quantum Widget" in html and "Desk Lamp" not in html
    html = _html(client.get("/catalog/", {"type": "SERVICE", "sort": "name"}))
    assert "Quantum Widget" in html and "Desk Lamp" not in html
    html = _html(client.get("/catalog/", {"q": "nothing-like-this"}))
    assert "No products match" in html


def test_catalog_list_survives_bad_filters_and_garbage_search(client):
    ProductFactory(name="Quantum Widget")
    html = _html(client.get("/catalog/", {"category": "nope", "type": "BOGUS", "sort": "x"}))
    assert "were not valid and were ignored" in html
    assert "Quantum Widget" in html
    for garbage in ["&|!", "':*", "(((", "\\", "日本語"]:
        assert client.get("/catalog/", {"q": garbage}).status_code == 200
    assert client.get("/catalog/", {"page": "999"}).status_code == 200
    assert client.get("/catalog/", {"page": "abc"}).status_code == 200


def test_catalog_list_paginates(client):
    for i in range(14):
        ProductFactory(name=f"Thing {i:02d}")
    html = _html(client.get("/catalog/", {"sort": "name"}))
    assert "Page 1 of 2" in html and "Thing 00" in html and "Thing 13" not in html
    html = _html(client.get("/catalog/", {"sort": "name", "page": 2}))
    assert "Thing 13" in html and 'rel="prev"' in html


def test_product_detail_shows_images_prices_variants_tiers_and_reviews(client):
    product = ProductFactory(
        slug="kit", name="Kit", images=[{"url": "https://example.com/kit.png", "alt": "The kit"}]
    )
    PriceFactory(product=product, unit_amount=4900)
    tiered = PriceFactory(product=product, tiers_mode="graduated", nickname="Seats")
    PricingTierFactory(price=tiered, up_to=5, unit_amount=500)
    PricingTierFactory(price=tiered, up_to=None, unit_amount=400, flat_amount=1000)
    VariantFactory(product=product, name="Team", sku="KIT-T", price_amount=14900)
    ReviewFactory(
        product=product,
        rating=4,
        title="Solid",
        author__first_name="Ann",
        author__last_name="Lee",
        verified=True,
    )
    ReviewFactory(product=product, rating=1, title="Unpaid grumble")
    html = _html(client.get("/catalog/kit/"))
    assert 'src="https://example.com/kit.png" alt="The kit"' in html
    assert "$49.00" in html and "$149.00" in html and "KIT-T" in html
    assert "1 – 5" in html and "6 and above" in html and "$10.00" in html
    assert "Solid" in html and "Ann L." in html and "4.0 out of 5 from 1 verified review" in html
    # The unverified review is listed, marked, and moves neither the average nor the count.
    assert "Unpaid grumble" in html and "Not verified" in html
    assert "1 review marked “Not verified” is listed below but not counted" in html
    assert "Log in</a> to write a review" in html


def test_jpy_prices_have_no_decimals_on_the_page(client):
    product = ProductFactory(slug="jp")
    PriceFactory(product=product, unit_amount=1500, currency="jpy")
    assert "¥1,500" in _html(client.get("/catalog/jp/"))


def test_customer_writes_a_review_through_the_page(customer_client, customer):
    product = ProductFactory(slug="kit")
    html = _html(customer_client.get("/catalog/kit/"))
    assert "Write a review" in html
    response = customer_client.post(
        "/catalog/kit/reviews/",
        {"rating": "5", "title": "Great", "body": "Works", "verified": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/catalog/kit/#reviews"
    review = Review.objects.get(product=product, author=customer)
    assert (review.rating, review.title, review.verified) == (5, "Great", False)
    html = _html(customer_client.get("/catalog/kit/"))
    assert "You reviewed this product" in html and "Write a review" not in html


def test_review_form_errors_are_shown_and_nothing_is_written(customer_client, customer):
    ProductFactory(slug="kit")
    response = customer_client.post("/catalog/kit/reviews/", {"rating": "9"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Review.objects.exists()


def test_second_review_through_the_page_is_refused_with_a_message(customer_client, customer):
    product = ProductFactory(slug="kit")
    ReviewFactory(product=product, author=customer, rating=3)
    response = customer_client.post("/catalog/kit/reviews/", {"rating": "1"})
    assert response.status_code == 400
    assert "already reviewed" in response.content.decode()
    assert Review.objects.get(product=product).rating == 3


def test_anonymous_review_post_redirects_to_login(client):
    ProductFactory(slug="kit")
    response = client.post("/catalog/kit/reviews/", {"rating": "5"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Review.objects.exists()


def test_category_page_includes_descendants(client):
    parent = CategoryFactory(slug="ai", name="AI tools")
    child = CategoryFactory(slug="ai-text", name="Text", parent=parent)
    ProductFactory(name="Chat helper", categories=[child])
    ProductFactory(name="Unrelated", categories=[CategoryFactory()])
    html = _html(client.get("/catalog/category/ai/"))
    assert "AI tools" in html and "Chat helper" in html and "Unrelated" not in html
    assert 'href="/catalog/category/ai-text/"' in html
    assert client.get("/catalog/category/missing/").status_code == 404
    html = _html(client.get("/catalog/category/ai-text/"))
    assert 'href="/catalog/category/ai/"' in html  # breadcrumb to the parent


def test_empty_category_and_collection_show_empty_states(client):
    CategoryFactory(slug="empty")
    CollectionFactory(slug="empty")
    assert "No products in this category yet" in _html(client.get("/catalog/category/empty/"))
    assert "no products right now" in _html(client.get("/collections/empty/"))


def test_collection_page_keeps_curated_order(client):
    collection = CollectionFactory(slug="picks", name="Staff picks")
    CollectionItemFactory(collection=collection, product=ProductFactory(name="Second"), position=2)
    CollectionItemFactory(collection=collection, product=ProductFactory(name="First"), position=1)
    html = _html(client.get("/collections/picks/"))
    assert html.index("First") < html.index("Second")
    assert "Staff picks" in _html(client.get("/collections/"))
    assert client.get("/collections/missing/").status_code == 404


def test_customer_never_sees_a_draft_through_any_page(customer_client):
    category = CategoryFactory(slug="cat")
    collection = CollectionFactory(slug="col")
    hidden = [
        DraftProductFactory(slug="draft", name="Secret gadget", categories=[category]),
        ProductFactory(
            slug="archived", name="Secret gadget", status="ARCHIVED", categories=[category]
        ),
        ProductFactory(
            slug="deleted",
            name="Secret gadget",
            categories=[category],
            deleted_at="2026-01-01T00:00:00Z",
        ),
    ]
    for position, product in enumerate(hidden):
        CollectionItemFactory(collection=collection, product=product, position=position)
        ReviewFactory(product=product)
    for url in [
        "/catalog/",
        "/catalog/?q=secret",
        "/catalog/category/cat/",
        "/collections/col/",
        "/collections/",
        "/pricing/",
    ]:
        assert "Secret gadget" not in _html(customer_client.get(url)), url
    for product in hidden:
        assert customer_client.get(f"/catalog/{product.slug}/").status_code == 404
        response = customer_client.post(f"/catalog/{product.slug}/reviews/", {"rating": "5"})
        assert response.status_code == 404
    assert Review.objects.filter(author__email="customer@example.com").count() == 0


def test_pricing_page_toggles_interval_and_shows_saving_badge_and_cta(client):
    PlanFactory(
        slug="pro", name="Pro", badge="Most popular", highlight=True, credits_per_period=2000
    )
    html = _html(client.get("/pricing/"))
    assert "Pro" in html and "Most popular" in html and "plan highlight" in html
    assert "$10.00" in html and "/ month" in html
    assert "Save $20.00 a year (17%)" in html
    assert 'href="/billing/subscribe/pro/?interval=month"' in html
    assert 'href="?interval=year"' in html
    html = _html(client.get("/pricing/", {"interval": "year"}))
    assert "$100.00" in html and "/ year" in html and "You save $20.00 a year" in html
    assert "$8.33 a month, billed yearly" in html
    assert 'href="/billing/subscribe/pro/?interval=year"' in html
    assert client.get("/pricing/", {"interval": "bogus"}).status_code == 200


def test_pricing_page_renders_the_seeded_plans(client):
    call_command("seed_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    html = _html(client.get("/pricing/"))
    for name in ("Free", "Pro", "Business"):
        assert f">{name}</h2>" in html
    # Without Stripe keys both paid plans are sold by invoice; the free one is not billed.
    assert html.count("Billed by invoice, paid by bank transfer.") == 2
    assert "<strong>Free</strong>" in html and "<strong>2,000</strong> credits" in html
    assert "Single sign-on (SSO)" in html and "Most popular" in html
    assert 'href="/billing/subscribe/pro/?interval=month"' in html
    assert "500 credits" in html  # credit packs listed under the plans


def test_pricing_page_empty_state(client):
    assert "No plans are on sale right now" in _html(client.get("/pricing/"))
