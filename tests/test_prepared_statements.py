"""The statements the product repeats with the same text (a consume, the credits summary's
figures, the plain product list) are prepared once per connection (core.prepared), and the
setting for poolers that cannot carry prepared statements turns that off without changing an
answer."""

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import create_api_key
from billing.factories import give_api_access
from catalog.factories import ProductFactory
from core.prepared import prepared_cursor
from credits import services
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance

CONSUME_PREFIX = "SELECT * FROM credits_consume_v2("


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _prepared_consumes() -> list[str]:
    return [text for text in _prepared() if text.startswith(CONSUME_PREFIX)]


@pytest.fixture
def customer(transactional_db):
    FeatureCostFactory(operation="PREPARED_OP", cost=3)
    return funded_user(credits=100)


def test_the_consume_statement_is_prepared_once_and_reused(customer):
    connection.close()  # a new connection: nothing prepared on it yet (each call autocommits)
    for _ in range(4):
        services.consume_credits(user=customer, operation="PREPARED_OP")
    assert len(_prepared_consumes()) == 1
    assert CreditBalance.objects.get(user=customer).balance == 100 - 4 * 3


@override_settings(DB_PREPARED_STATEMENTS=False)
def test_without_prepared_statements_nothing_is_prepared_and_the_answer_is_the_same(customer):
    connection.close()
    rows = [services.consume_credits(user=customer, operation="PREPARED_OP") for _ in range(4)]
    assert _prepared_consumes() == []
    assert [row.balance_after for row in rows] == [97, 94, 91, 88]
    assert CreditBalance.objects.get(user=customer).balance == 88


def test_the_credits_summary_and_the_plain_product_list_are_prepared(customer):
    ProductFactory.create_batch(3)
    give_api_access(customer)
    _key, raw = create_api_key(user=customer, name="prepared")
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    connection.close()
    counts = []
    for _ in range(3):
        summary = client.get("/api/v1/credits/")
        products = client.get("/api/v1/products/")
        assert summary.status_code == 200 and summary.json()["balance"] == 100
        assert products.status_code == 200
        counts.append(products.json()["count"])
    assert counts[0] >= 3 and counts == [counts[0]] * 3
    texts = _prepared()
    assert sum("credits_ledgerday" in text for text in texts) == 1
    assert (
        sum(text.lstrip().startswith("SELECT") and "catalog_product" in text for text in texts) == 1
    )


@pytest.mark.django_db
def test_a_prepared_cursor_reads_timestamps_as_the_orm_does():
    """The prepared cursor loads timestamptz with psycopg's own loader; the values must be
    the ORM's: the same instants, aware, in the connection's zone."""
    query = "SELECT %s::timestamptz, %s::timestamptz, %s::timestamptz, %s::timestamptz"
    values = [
        "2026-03-29 01:30:00.000001+00",
        "2024-02-29 23:59:59.5-07:30",
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, values)
        expected = cursor.fetchone()
    with prepared_cursor() as cursor:
        cursor.execute(query, values)
        got = cursor.fetchone()
    assert got == expected
    assert [value.utcoffset() for value in got] == [value.utcoffset() for value in expected]
    assert all(value.tzinfo is not None for value in got)
