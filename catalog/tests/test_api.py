"""The public catalog API: filters, detail, tree, collections, plans, reviews, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.factories import OrderFactory, OrderItemFactory
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
from catalog.models import Category, Collection, Product, Review

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def _slugs(response):
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


def test_product_list_is_public_and_shows_price_rating_and_categories(api_client):
    category = CategoryFactory(slug="tools", name="Tools")
    product = ProductFactory(slug="kit", categories=[category])
    PriceFactory(product=product, unit_amount=2900)
    PriceFactory(product=product, unit_amount=1900)
    PriceFactory(product=product, unit_amount=500, active=False)
    ReviewFactory(product=product, rating=4, verified=True)
    ReviewFactory(product=product, rating=5, verified=True)
    ReviewFactory(product=product, rating=1)  # not verified: listed, not counted

    body = api_client.get(LIST).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["from_price"] == {"amount": 1900, "currency": "usd", "display": "$19.00"}
    assert row["rating"] == {"average": 4.5, "count": 2}
    assert row["categories"] == [{"slug": "tools", "name": "Tools"}]
    assert row["url"] == "/catalog/kit/"


def test_filters_category_with_descendants_type_tag_featured_and_price(api_client):
    parent = CategoryFactory(slug="ai")
    child = CategoryFactory(slug="ai-text", parent=parent)
    grandchild = CategoryFactory(slug="ai-chat", parent=child)
    other = CategoryFactory(slug="other")
    deep = ProductFactory(slug="deep", categories=[grandchild], tags=["chat"], featured=True)
    PriceFactory(product=deep, unit_amount=1000)
    top = ProductFactory(slug="top", categories=[parent], type="SERVICE")
    PriceFactory(product=top, unit_amount=5000)
    elsewhere = ProductFactory(slug="elsewhere", categories=[other], tags=["chat"])
    VariantFactory(product=elsewhere, price_amount=300)

    assert sorted(_slugs(api_client.get(LIST, {"category": "ai"}))) == ["deep", "top"]
    assert _slugs(api_client.get(LIST, {"category": "ai-text"})) == ["deep"]
    assert _slugs(api_client.get(LIST, {"category": "no-such"})) == []
    assert _slugs(api_client.get(LIST, {"type": "SERVICE"})) == ["top"]
    assert sorted(_slugs(api_client.get(LIST, {"tag": "chat"}))) == ["deep", "elsewhere"]
    assert _slugs(api_client.get(LIST, {"featured": "true"})) == ["deep"]
    assert sorted(_slugs(api_client.get(LIST, {"min_price": 1000}))) == ["deep", "top"]
    assert sorted(_slugs(api_client.get(LIST, {"max_price": 1000}))) == ["deep", "elsewhere"]
    assert _slugs(api_client.get(LIST, {"min_price": 1001, "max_price": 5000})) == ["top"]
    assert _slugs(api_client.get(LIST, {"ordering": "from_amount"})) == ["elsewhere", "deep", "top"]
    assert _slugs(api_client.get(LIST, {"ordering": "-from_amount"})) == [
        "top",
        "deep",
        "elsewhere",
    ]


@pytest.mark.parametrize(
    "params", [{"type": "BOGUS"}, {"min_price": "abc"}, {"min_price": -1}, {"featured": "maybe"}]
)
def test_bad_filter_values_answer_400_with_the_shared_error_shape(api_client, params):
    ProductFactory()
    response = api_client.get(LIST, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == set(params)


def test_search_ranks_name_matches_first_and_tolerates_garbage(api_client):
    ProductFactory(slug="desc", name="Toolbox", description="with a telescope inside")
    ProductFactory(slug="name", name="Telescope")
    assert _slugs(api_client.get(LIST, {"search": "telescope"})) == ["name", "desc"]
    assert _slugs(api_client.get(LIST, {"search": "teles"})) == ["name", "desc"]
    for garbage in ["&|!", "'\"", ":*", "(((", "日本語"]:
        assert api_client.get(LIST, {"search": garbage}).status_code == 200


def test_product_detail_has_prices_tiers_variants_categories_and_rating_summary(api_client):
    category = CategoryFactory(slug="dev")
    product = ProductFactory(slug="seats", categories=[category])
    price = PriceFactory(product=product, tiers_mode="graduated", unit_amount=0)
    PricingTierFactory(price=price, up_to=5, unit_amount=500)
    PricingTierFactory(price=price, up_to=None, unit_amount=400, flat_amount=100)
    VariantFactory(product=product, sku="S-TEAM", license_type="team", price_amount=9900)
    VariantFactory(product=product, sku="S-OFF", available=False)
    ReviewFactory(product=product, rating=3, verified=True)
    ReviewFactory(product=product, rating=1)  # not verified: listed, not counted

    response = api_client.get(f"{LIST}seats/")
    assert response.status_code == 200
    body = response.json()
    assert body["categories"] == [{"slug": "dev", "name": category.name}]
    assert body["prices"][0]["tiers_mode"] == "graduated"
    assert body["prices"][0]["tiers"] == [
        {"up_to": 5, "unit_amount": 500, "flat_amount": 0},
        {"up_to": None, "unit_amount": 400, "flat_amount": 100},
    ]
    assert [v["sku"] for v in body["variants"]] == ["S-TEAM"]
    assert body["variants"][0]["price"] == {"amount": 9900, "currency": "usd", "display": "$99.00"}
    assert body["rating_summary"] == {
        "average": 3.0,
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
        "verified_count": 1,
        "verified_average": 3.0,
        "unverified_count": 1,
    }


def test_categories_endpoint_returns_the_tree(api_client):
    root = CategoryFactory(slug="root", name="Root", sort_order=0)
    child = CategoryFactory(slug="child", parent=root)
    CategoryFactory(slug="grandchild", parent=child)
    CategoryFactory(slug="second", sort_order=1)
    body = api_client.get("/api/v1/categories/").json()
    assert [c["slug"] for c in body] == ["root", "second"]
    assert body[0]["children"][0]["slug"] == "child"
    assert body[0]["children"][0]["children"][0]["slug"] == "grandchild"


def test_collections_list_products_in_curated_order_without_drafts(api_client):
    collection = CollectionFactory(slug="picks")
    CollectionItemFactory(collection=collection, product=ProductFactory(slug="b"), position=2)
    CollectionItemFactory(collection=collection, product=ProductFactory(slug="a"), position=1)
    CollectionItemFactory(collection=collection, product=DraftProductFactory(slug="d"), position=0)
    CollectionFactory(slug="hidden", active=False)
    body = api_client.get("/api/v1/collections/").json()
    assert [c["slug"] for c in body["results"]] == ["picks"]
    assert [p["slug"] for p in body["results"][0]["products"]] == ["a", "b"]
    assert api_client.get("/api/v1/collections/picks/").status_code == 200
    assert api_client.get("/api/v1/collections/hidden/").status_code == 404


def test_plans_list_active_plans_in_sort_order_with_prices_and_cta(api_client):
    business = PlanFactory(
        slug="business",
        name="Business",
        sort_order=2,
        billing_source="manual",
        badge="Teams",
        entitlements=["api_access", "sso"],
    )
    PlanFactory(
        slug="pro",
        name="Pro",
        sort_order=1,
        highlight=True,
        credits_per_period=2000,
        feature_cost_overrides={"AI_TEXT_CHAT": 1},
    )
    PlanFactory(slug="old", active=False)
    PlanFactory(slug="draft-product", product=DraftProductFactory(type="SUBSCRIPTION"))

    response = api_client.get("/api/v1/plans/")
    assert response.status_code == 200
    body = response.json()
    assert [p["slug"] for p in body] == ["pro", "business"]
    pro, biz = body
    assert pro["monthly_price"]["amount"] == 1000 and pro["monthly_price"]["currency"] == "usd"
    assert pro["monthly_price"]["interval"] == "month"
    assert pro["yearly_price"]["amount"] == 10000
    assert pro["yearly_saving"] == {
        "amount": 2000,
        "currency": "usd",
        "display": "$20.00",
        "percent": 17,
    }
    assert pro["credits_per_period"] == 2000 and pro["highlight"] is True
    assert pro["feature_cost_overrides"] == {"AI_TEXT_CHAT": 1}
    assert pro["billing_source"] == "stripe" and biz["billing_source"] == "manual"
    assert biz["entitlements"] == ["api_access", "sso"] and biz["badge"] == "Teams"
    assert biz["cta"] == {
        "type": "subscribe",
        "label": "Choose Business",
        "url": "/billing/subscribe/business/?interval=month",
        "yearly_url": "/billing/subscribe/business/?interval=year",
    }
    assert business.slug == "business"


def test_reviews_list_is_public_and_hides_author_email(api_client):
    product = ProductFactory(slug="p")
    ReviewFactory(
        product=product,
        rating=4,
        author__first_name="Ann",
        author__last_name="Lee",
        author__email="ann@example.com",
    )
    response = api_client.get(f"{LIST}p/reviews/")
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["author_name"] == "Ann L." and row["rating"] == 4
    assert "ann@example.com" not in response.content.decode()


def test_posting_a_review_needs_authentication(api_client):
    ProductFactory(slug="p")
    response = api_client.post(f"{LIST}p/reviews/", {"rating": 5})
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    assert not Review.objects.exists()


def test_customer_posts_a_review_and_cannot_set_verified(customer_api, customer):
    product = ProductFactory(slug="p")
    response = customer_api.post(
        f"{LIST}p/reviews/",
        {"rating": 5, "title": "Great", "body": "Love it", "verified": True, "helpful_votes": 99},
    )
    assert response.status_code == 201, response.content
    assert response.json()["verified"] is False
    review = Review.objects.get(product=product, author=customer)
    assert (review.rating, review.title, review.verified, review.helpful_votes) == (
        5,
        "Great",
        False,
        0,
    )


def test_second_review_answers_400_already_reviewed(customer_api, customer):
    product = ProductFactory(slug="p")
    assert customer_api.post(f"{LIST}p/reviews/", {"rating": 5}).status_code == 201
    response = customer_api.post(f"{LIST}p/reviews/", {"rating": 1})
    assert response.status_code == 400
    assert response.json()["code"] == "already_reviewed"
    assert Review.objects.get(product=product, author=customer).rating == 5


@pytest.mark.parametrize("rating", [0, 6, -3, "x", None, 4.5, True])
def test_rating_outside_1_to_5_answers_400_and_writes_nothing(customer_api, rating):
    ProductFactory(slug="p")
    response = customer_api.post(f"{LIST}p/reviews/", {"rating": rating}, format="json")
    assert response.status_code == 400
    assert "rating" in response.json()["fields"]
    assert not Review.objects.exists()


def test_review_of_missing_or_draft_product_answers_404(customer_api):
    DraftProductFactory(slug="draft")
    assert customer_api.post(f"{LIST}draft/reviews/", {"rating": 5}).status_code == 404
    assert customer_api.post(f"{LIST}nope/reviews/", {"rating": 5}).status_code == 404
    assert not Review.objects.exists()


def test_customer_never_sees_a_draft_archived_or_deleted_product_through_the_api(
    customer_api, api_client
):
    category = CategoryFactory(slug="cat")
    collection = CollectionFactory(slug="col")
    hidden = [
        DraftProductFactory(slug="draft", name="Secret widget", categories=[category]),
        ProductFactory(
            slug="archived", name="Secret widget", status="ARCHIVED", categories=[category]
        ),
        ProductFactory(
            slug="deleted",
            name="Secret widget",
            categories=[category],
            deleted_at="2026-01-01T00:00:00Z",
        ),
    ]
    for position, product in enumerate(hidden):
        CollectionItemFactory(collection=collection, product=product, position=position)
        ReviewFactory(product=product)
    for client in (api_client, customer_api):
        assert _slugs(client.get(LIST)) == []
        assert _slugs(client.get(LIST, {"search": "secret"})) == []
        assert _slugs(client.get(LIST, {"category": "cat"})) == []
        assert client.get("/api/v1/collections/col/").json()["products"] == []
        for product in hidden:
            assert client.get(f"{LIST}{product.slug}/").status_code == 404
            assert client.get(f"{LIST}{product.slug}/reviews/").status_code == 404


def _add_rows(n):
    """n more rows in every list: products (with prices, variants, reviews, categories),
    collections, plans, categories and reviews of the product "reviewed"."""

    category = Category.objects.filter(slug="c").first() or CategoryFactory(slug="c")
    collection = Collection.objects.filter(slug="col").first() or CollectionFactory(slug="col")
    reviewed = Product.objects.filter(slug="reviewed").first() or ProductFactory(slug="reviewed")
    start = collection.items.count()
    for i in range(start, start + n):
        product = ProductFactory(categories=[category, CategoryFactory()], tags=["t"])
        PriceFactory(product=product, unit_amount=100 + i)
        VariantFactory(product=product)
        ReviewFactory(product=product, rating=1 + i % 5)
        CollectionItemFactory(collection=collection, product=product, position=i)
        CollectionItemFactory(collection=CollectionFactory(), product=product)
        PlanFactory()
        ReviewFactory(product=reviewed)


LIST_URLS = [
    "/api/v1/products/?page_size=50",
    "/api/v1/products/?page_size=50&search=product",
    "/api/v1/products/?page_size=50&category=c&ordering=-from_amount",
    "/api/v1/categories/",
    "/api/v1/collections/?page_size=50",
    "/api/v1/plans/",
    "/api/v1/products/reviewed/reviews/?page_size=50",
]


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), len(
        response.json()["results"] if "results" in response.json() else response.json()
    )


@pytest.mark.parametrize("url", LIST_URLS)
def test_list_endpoints_use_the_same_number_of_queries_for_1_and_50_rows(
    api_client, django_assert_max_num_queries, url
):
    _add_rows(1)
    few, shown_few = _queries(api_client, url)
    _add_rows(49)
    many, shown_many = _queries(api_client, url)
    assert shown_many > shown_few
    assert many == few
    with django_assert_max_num_queries(few):
        api_client.get(url)


def test_openapi_schema_describes_the_catalog_endpoints(admin_api):
    response = admin_api.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/products/",
        "/api/v1/products/{slug}/",
        "/api/v1/products/{slug}/reviews/",
        "/api/v1/categories/",
        "/api/v1/collections/",
        "/api/v1/plans/",
    ]:
        assert path in paths
    params = {p["name"] for p in paths["/api/v1/products/"]["get"]["parameters"]}
    assert {
        "search",
        "category",
        "type",
        "tag",
        "featured",
        "min_price",
        "max_price",
        "ordering",
        "page",
    } <= params


def test_api_review_is_verified_only_from_a_completed_order(customer_api, customer):
    product = ProductFactory(slug="p")
    OrderItemFactory(order=OrderFactory(user=customer, status="COMPLETED"), product=product)
    response = customer_api.post(f"{LIST}p/reviews/", {"rating": 4})
    assert response.status_code == 201
    assert response.json()["verified"] is True
    assert Review.objects.get(product=product, author=customer).verified is True
