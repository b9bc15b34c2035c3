"""The plain product list's page is written as JSON by the database (catalog.list_json); it
must be the serializer's answer, value for value, whatever the products hold."""

import json
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from rest_framework.renderers import JSONRenderer

from catalog import selectors
from catalog.factories import (
    CategoryFactory,
    CreditPackFactory,
    PriceFactory,
    ProductFactory,
    VariantFactory,
)
from catalog.models import Product
from catalog.serializers import ProductListSerializer

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def _serialized(page: list[dict]) -> list:
    """What the serializer answers for ``page`` (rows of ``product_list_rows()``), through
    DRF's JSON renderer and back."""
    data = ProductListSerializer(page, many=True).data
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def varied_catalog():
    first, second = CategoryFactory(name="Zeta", sort_order=2), CategoryFactory(name="Äpfel")
    # Ratings whose rounding differs between Python (half to even on the binary value) and
    # PostgreSQL (half away from zero): 4.125 is exact in binary.
    plain = ProductFactory(
        name='Quote " and back\\slash',
        short_description="Tab\tnew\nline \u2028 and ✓",
        tags=["a", "b"],
        images=[{"url": "/media/x.svg", "alt": "X"}],
        categories=[first, second],
        rating_average=4.125,
        rating_count=8,
        published_at=datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
    )
    PriceFactory(product=plain, unit_amount=1900, currency="usd")
    with_variant = ProductFactory(
        rating_average=2.675,
        rating_count=3,
        published_at=datetime(2026, 3, 2, 9, 30, 15, 120, tzinfo=UTC),
    )
    VariantFactory(product=with_variant, price_amount=123456, currency="eur")
    PriceFactory(product=ProductFactory(featured=True), unit_amount=500, currency="jpy")
    CreditPackFactory(published_at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    ProductFactory(tags=[], images=[])  # no price at all: from_price is null
    return Product.objects.count()


def test_the_page_from_the_database_is_the_serializers_answer(api_client, varied_catalog):
    response = api_client.get(LIST)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    rows = list(selectors.product_list_rows())
    assert body["count"] == varied_catalog == len(rows)
    assert body["next"] is None and body["previous"] is None
    assert body["results"] == _serialized(rows)
    ratings = {row["slug"]: row["rating"]["average"] for row in body["results"]}
    assert 4.12 in ratings.values() and 2.67 in ratings.values()  # Python's rounding


def test_pages_and_their_links_are_the_serializers(api_client, varied_catalog):
    rows = list(selectors.product_list_rows())

    first = api_client.get(LIST, {"page_size": 2}).json()
    second = api_client.get(LIST, {"page_size": 2, "page": 2, "ordering": "name"}).json()

    assert first["count"] == second["count"] == len(rows)
    assert first["results"] == _serialized(rows[:2])
    assert first["next"] == "http://testserver/api/v1/products/?page=2&page_size=2"
    by_name = list(selectors.product_list_rows().order_by("name"))
    assert second["results"] == _serialized(by_name[2:4])
    assert second["previous"] == "http://testserver/api/v1/products/?ordering=name&page_size=2"


def test_a_filtered_list_and_a_browser_still_get_the_serializers_answer(api_client, varied_catalog):
    filtered = api_client.get(LIST, {"type": "CREDIT_PACK"})
    html = api_client.get(LIST, HTTP_ACCEPT="text/html")

    assert filtered.status_code == 200
    assert [row["type"] for row in filtered.json()["results"]] == ["CREDIT_PACK"]
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")


@override_settings(TIME_ZONE="Europe/Paris")
def test_outside_utc_the_serializer_answers_in_that_zone(api_client, varied_catalog):
    body = api_client.get(LIST).json()

    rows = list(selectors.product_list_rows())
    assert body["results"] == _serialized(rows)
    assert any(row["published_at"].endswith("+01:00") for row in body["results"])


def test_a_page_past_the_end_is_still_a_404(api_client, varied_catalog):
    response = api_client.get(LIST, {"page": 99})

    assert response.status_code == 404
