"""The product list at the database's pace: rating figures kept on the product, the total in
the page's own query, and a short cache of anonymous reads that every catalog change clears."""

import importlib
import threading

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.factories import UserFactory
from billing.factories import OrderFactory, OrderItemFactory
from catalog import services
from catalog.factories import (
    CategoryFactory,
    PriceFactory,
    ProductFactory,
    ReviewFactory,
)
from catalog.models import Product, Review

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def _paid_for(user, product) -> None:
    """``user`` has a completed order of ``product``: their review of it is verified."""
    OrderItemFactory(order=OrderFactory(user=user, status="COMPLETED"), product=product)


def _figures(product) -> tuple[int, float | None]:
    product.refresh_from_db(fields=["rating_count", "rating_average"])
    return product.rating_count, product.rating_average


# --- rating figures --------------------------------------------------------------------------


def test_a_posted_review_updates_the_products_figures_and_the_list(
    customer_api, customer, api_client
):
    product = ProductFactory(slug="kit")
    ReviewFactory(product=product, rating=2, verified=True)
    _paid_for(customer, product)

    response = customer_api.post(f"{LIST}kit/reviews/", {"rating": 5}, format="json")

    assert response.status_code == 201, response.content
    assert _figures(product) == (2, 3.5)
    row = api_client.get(LIST).json()["results"][0]
    assert row["rating"] == {"average": 3.5, "count": 2}


def test_a_refused_review_leaves_the_figures_alone(customer_api, customer):
    product = ProductFactory(slug="kit")
    ReviewFactory(product=product, author=customer, rating=4, verified=True)

    response = customer_api.post(f"{LIST}kit/reviews/", {"rating": 1}, format="json")

    assert response.json()["code"] == "already_reviewed"
    assert _figures(product) == (1, 4.0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_of_one_product_all_count():
    product = ProductFactory()
    authors = [UserFactory() for _ in range(5)]
    for author in authors:
        _paid_for(author, product)
    barrier = threading.Barrier(len(authors))
    errors = []

    def write(author, rating):
        try:
            barrier.wait()
            services.create_review(author=author, product=product, rating=rating)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=write, args=(author, 1 + n)) for n, author in enumerate(authors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Review.objects.filter(product=product).count() == 5
    assert _figures(product) == (5, 3.0)


def test_deleting_reviews_in_the_console_updates_the_figures(admin_client_user):
    product = ProductFactory()
    keep = ReviewFactory(product=product, rating=5, verified=True)
    gone = [
        ReviewFactory(product=product, rating=1, verified=True),
        ReviewFactory(product=product, rating=2, verified=True),
    ]
    assert _figures(product) == (3, pytest.approx(8 / 3))

    response = admin_client_user.post(
        "/admin/catalog/review/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in gone], "post": "yes"},
    )
    assert response.status_code == 302
    assert _figures(product) == (1, 5.0)

    response = admin_client_user.post(f"/admin/catalog/review/{keep.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _figures(product) == (0, None)


def test_a_duplicated_product_starts_without_ratings(admin_user):
    product = ProductFactory()
    ReviewFactory(product=product, rating=4)

    copy = services.duplicate_product(product=product, actor=admin_user)

    assert _figures(copy) == (0, None)


def test_the_migration_backfill_sets_the_figures_from_the_reviews():
    backfill = importlib.import_module("catalog.migrations.0005_product_rating_figures").BACKFILL
    reviewed, unreviewed = ProductFactory(), ProductFactory()
    for rating in (5, 4, 4):
        ReviewFactory(product=reviewed, rating=rating)
    Product.all_objects.update(rating_count=0, rating_average=None)  # as before the migration

    with connection.cursor() as cursor:
        cursor.execute(backfill)

    assert _figures(reviewed) == (3, pytest.approx(13 / 3))
    assert _figures(unreviewed) == (0, None)


# --- one query for the list, total included --------------------------------------------------


def test_the_product_list_is_one_query_with_its_total(api_client, django_assert_num_queries):
    category = CategoryFactory(slug="tools", name="Tools")
    for n in range(7):
        product = ProductFactory(slug=f"p{n}", categories=[category])
        PriceFactory(product=product, unit_amount=100 * (n + 1))
        ReviewFactory(product=product, rating=1 + n % 5)

    with django_assert_num_queries(1):
        first = api_client.get(LIST, {"page_size": 3}).json()
    with django_assert_num_queries(1):
        last = api_client.get(LIST, {"page_size": 3, "page": 3}).json()

    assert first["count"] == last["count"] == 7
    assert len(first["results"]) == 3 and len(last["results"]) == 1
    assert first["next"].endswith("page=2&page_size=3") and first["previous"] is None
    assert last["next"] is None and last["previous"] is not None
    assert first["results"][0]["categories"] == [{"slug": "tools", "name": "Tools"}]
    assert first["results"][0]["url"].startswith("/catalog/p")


@pytest.mark.parametrize("ordering", ["", "name", "-from_amount", "rating_average", "not-a-field"])
def test_the_plain_listing_answers_what_the_orm_would(api_client, ordering):
    # The plain listing runs a statement compiled once per process; a filtered one goes
    # through the ORM. Both answer the same rows, converted the same way, page by page.
    category = CategoryFactory(slug="kits", name="Kits")
    for n in range(5):
        product = ProductFactory(slug=f"k{n}", categories=[category], tags=["a", f"t{n}"])
        PriceFactory(product=product, unit_amount=300 - 50 * n)
        ReviewFactory(product=product, rating=1 + n % 5)
    ProductFactory(slug="no-price")
    params = {"page_size": 2, **({"ordering": ordering} if ordering else {})}

    for page in (1, 2, 3):
        plain = api_client.get(LIST, {**params, "page": page})
        through_orm = api_client.get(LIST, {**params, "page": page, "featured": "false"})
        assert plain.status_code == through_orm.status_code == 200
        plain, through_orm = plain.json(), through_orm.json()
        assert plain["count"] == through_orm["count"] == 6
        assert plain["results"] == through_orm["results"]
    assert plain["results"][0]["published_at"] is not None
    assert any(row["from_price"] for row in plain["results"])


def test_pages_past_the_end_or_malformed_answer_404_and_last_works(api_client):
    for n in range(3):
        ProductFactory(slug=f"p{n}")

    assert api_client.get(LIST, {"page_size": 2, "page": 3}).status_code == 404
    assert api_client.get(LIST, {"page": 0}).status_code == 404
    assert api_client.get(LIST, {"page": "x"}).status_code == 404
    assert api_client.get(LIST, {"page": 10**20}).status_code == 404
    last = api_client.get(LIST, {"page_size": 2, "page": "last"})
    assert last.status_code == 200 and len(last.json()["results"]) == 1
    assert api_client.get(LIST, {"search": "nothing-matches-this"}).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


# --- the public cache ------------------------------------------------------------------------


@pytest.fixture
def public_cache(settings):
    settings.CATALOG_PUBLIC_CACHE_SECONDS = 30
    cache.clear()
    yield
    cache.clear()


def test_anonymous_list_and_detail_are_cached_and_public(
    api_client, public_cache, django_assert_num_queries
):
    product = ProductFactory(slug="kit")
    PriceFactory(product=product, unit_amount=1900)
    first_list, first_detail = api_client.get(LIST), api_client.get(f"{LIST}kit/")

    with django_assert_num_queries(0):
        cached_list, cached_detail = api_client.get(LIST), api_client.get(f"{LIST}kit/")

    assert cached_list.json() == first_list.json()
    assert cached_detail.json() == first_detail.json()
    for response in (first_list, cached_list, first_detail, cached_detail):
        assert response.status_code == 200
        assert "public" in response["Cache-Control"]
        assert "max-age=30" in response["Cache-Control"]


def test_each_host_gets_its_own_links_from_the_cache(api_client, public_cache, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com", "www.example.com"]
    for n in range(3):
        ProductFactory(slug=f"p{n}")

    first = api_client.get(LIST, {"page_size": 2}, HTTP_HOST="shop.example.com").json()
    second = api_client.get(LIST, {"page_size": 2}, HTTP_HOST="www.example.com").json()

    assert first["next"].startswith("http://shop.example.com/")
    assert second["next"].startswith("http://www.example.com/")


def test_signed_in_readers_and_errors_are_not_cached(customer_api, api_client, public_cache):
    ProductFactory(slug="kit")
    customer_api.get(LIST)
    assert api_client.get(f"{LIST}nope/").status_code == 404

    ProductFactory(slug="new")

    signed_in = customer_api.get(LIST)
    assert [row["slug"] for row in signed_in.json()["results"]] == ["new", "kit"]
    assert "public" not in signed_in.get("Cache-Control", "")
    assert api_client.get(f"{LIST}nope/").status_code == 404


def _slugs(client):
    return [row["slug"] for row in client.get(LIST).json()["results"]]


def test_a_catalog_change_clears_the_cache_once_committed(
    api_client,
    customer_api,
    customer,
    admin_user,
    admin_client_user,
    public_cache,
    django_capture_on_commit_callbacks,
):
    product = ProductFactory(slug="kit")
    price = PriceFactory(product=product, unit_amount=1900)
    assert _slugs(api_client) == ["kit"]

    # A product's status (a service).
    with django_capture_on_commit_callbacks(execute=True):
        services.archive_product(product=product, actor=admin_user)
    assert _slugs(api_client) == []
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_product(product=product, actor=admin_user)
    assert _slugs(api_client) == ["kit"]

    # A price (the console).
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_user.post(
            f"/admin/catalog/price/{price.pk}/change/",
            {
                "product": product.pk,
                "nickname": "",
                "unit_amount": "2500",
                "currency": "usd",
                "type": "ONE_TIME",
                "interval_count": "1",
                "active": "on",
                "tiers-TOTAL_FORMS": "0",
                "tiers-INITIAL_FORMS": "0",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert api_client.get(LIST).json()["results"][0]["from_price"]["amount"] == 2500
    assert api_client.get(f"{LIST}kit/").json()["from_price"]["amount"] == 2500

    # A review (the API) by a customer who paid for the product.
    _paid_for(customer, product)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            customer_api.post(f"{LIST}kit/reviews/", {"rating": 4}, format="json").status_code
            == 201
        )
    assert api_client.get(LIST).json()["results"][0]["rating"] == {"average": 4.0, "count": 1}
    assert api_client.get(f"{LIST}kit/").json()["rating_summary"]["count"] == 1


def test_an_uncommitted_change_does_not_clear_the_cache(
    api_client, admin_user, public_cache, django_capture_on_commit_callbacks
):
    product = ProductFactory(slug="kit")
    assert _slugs(api_client) == ["kit"]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.archive_product(product=product, actor=admin_user)

    # Rolled back in effect (the callbacks never ran): the cached answer stands until they do.
    assert callbacks and _slugs(api_client) == ["kit"]
    for callback in callbacks:
        callback()
    assert _slugs(api_client) == []


def test_the_verified_only_migration_recomputes_the_figures():
    recompute = importlib.import_module(
        "catalog.migrations.0006_product_rating_verified_only"
    ).RECOMPUTE
    mixed, unverified_only = ProductFactory(), ProductFactory()
    for rating, verified in ((5, True), (3, True), (1, False)):
        ReviewFactory(product=mixed, rating=rating, verified=verified)
    ReviewFactory(product=unverified_only, rating=4)
    # As the figures were before: every review counted.
    Product.all_objects.filter(pk=mixed.pk).update(rating_count=3, rating_average=3.0)
    Product.all_objects.filter(pk=unverified_only.pk).update(rating_count=1, rating_average=4.0)

    with connection.cursor() as cursor:
        cursor.execute(recompute)

    assert _figures(mixed) == (2, 4.0)
    assert _figures(unverified_only) == (0, None)
