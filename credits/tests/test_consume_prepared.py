"""The consume statement is prepared once per connection (core.prepared), and the setting for
poolers that cannot carry prepared statements turns that off without changing an answer."""

import pytest
from django.db import connection
from django.test import override_settings

from credits import services
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance

CONSUME_PREFIX = "SELECT * FROM credits_consume_v2("


def _prepared_consumes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall() if row[0].startswith(CONSUME_PREFIX)]


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
