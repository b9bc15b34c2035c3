"""The statements the product repeats with the same text (a consume, the credits summary's
figures, the plain product list) are prepared once per connection (core.prepared), and the
setting for poolers that cannot carry prepared statements turns that off without changing an
answer."""

import pytest
from django.db import DataError, connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import create_api_key
from billing.factories import give_api_access
from catalog.factories import ProductFactory
from core.prepared import prepared_cursor
from credits import services
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditTransaction

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


def _select(cursor, value: int) -> int:
    cursor.execute("SELECT %s::integer", [value])
    return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_connection_keeps_one_prepared_cursor_and_a_call_inside_another_gets_its_own():
    with prepared_cursor() as first:
        first.execute("SELECT %s::integer FROM generate_series(1, 3)", [7])
        assert first.fetchone() == (7,)
        with prepared_cursor() as inner:
            assert inner is not first
            assert _select(inner, 2) == 2
        # The inner call left the outer cursor's rows where they were.
        assert first.fetchall() == [(7,), (7,)]
    with prepared_cursor() as again:
        assert again is first
        assert _select(again, 3) == 3


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_gets_a_new_cursor_and_an_error_leaves_the_kept_one_usable():
    with prepared_cursor() as first:
        assert _select(first, 1) == 1
    connection.close()
    with prepared_cursor() as second:
        assert second is not first
        assert _select(second, 2) == 2
    with pytest.raises(DataError), prepared_cursor() as cursor:
        cursor.execute("SELECT 1 / %s::integer", [0])
    with prepared_cursor() as cursor:
        assert cursor is second
        assert _select(cursor, 3) == 3


def test_the_consumed_row_is_the_row_the_orm_reads(customer):
    row = services.consume_credits(user=customer, operation="PREPARED_OP", details={"b": 1})
    stored = CreditTransaction.objects.get(pk=row.pk)

    def fields(instance):
        return {name: value for name, value in vars(instance).items() if name != "_state"}

    assert fields(row) == fields(stored)
    assert (row._state.adding, row._state.db) == (stored._state.adding, stored._state.db)
    assert row == stored and row.user == customer and row.user_id == customer.pk
    # The instance behaves as one the ORM loaded: it refreshes and caches its relations.
    row.refresh_from_db()
    stored.refresh_from_db()
    assert fields(row) == fields(stored)
