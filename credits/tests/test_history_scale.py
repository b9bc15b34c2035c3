"""The credits page and the summary API cost the same on a long history as on a short one.

One customer's history is generated in the database (INSERT ... SELECT generate_series, then
ANALYZE, the planner's statistics included): 50,000 ledger rows, then 150,000 more before
them (200,000); twenty other customers hold 5,000 days of history each, so the daily sums
hold many users as they do in production. At both sizes the page and the API run the same
number of queries, and every query on the big tables (the ledger, the lots, the daily sums) is
planned with an index, never a sequential scan, with the planner's default settings.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.factories import UserFactory
from core.dbroles import as_owner
from credits import services
from credits.models import GrantSource

PAGE = "/credits/"
SUMMARY = "/api/v1/credits/"
BIG_TABLES = ("credits_credittransaction", "credits_creditgrant", "credits_ledgerday")
# One ledger row every 10 minutes: 50,000 rows span a year, 200,000 nearly four.
STEP = timedelta(minutes=10)
GROUP = 10  # a history lot: one GRANT of 9, then nine CONSUMEs of 1 (it ends empty)


def _add_history(user, *, rows: int, first_row: int, end) -> None:
    """``rows`` ledger rows numbered from ``first_row``, row n at ``end - n * STEP`` (higher
    numbers are older, and inserted first), in groups of ten (a GRANT of 9 and nine CONSUMEs
    of 1), plus one emptied lot per group. The rows sum to zero, so the books still agree
    once a real movement follows (the invariant reads the balance from the user's last row);
    the lots have no movements and nothing left, which the per-lot check accepts."""
    last_row = first_row + rows - 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credits_credittransaction
                (user_id, kind, operation, quantity, amount, balance_after, details,
                 idempotency_key, created_at)
            SELECT %(user)s,
                   CASE WHEN g %% 10 = 0 THEN 'GRANT' ELSE 'CONSUME' END,
                   CASE WHEN g %% 10 = 0 THEN ''
                        ELSE (ARRAY['AI_TEXT_CHAT', 'AI_IMAGE_GENERATION',
                                    'SHORTS_SCRIPT'])[1 + g %% 3] END,
                   1,
                   CASE WHEN g %% 10 = 0 THEN 9 ELSE -1 END,
                   CASE WHEN g %% 10 = 0 THEN 9 ELSE g %% 10 - 1 END,
                   '{}', '', %(end)s - g * %(step)s
              FROM generate_series(%(last)s, %(first)s, -1) AS g""",
            {"user": user.pk, "end": end, "step": STEP, "first": first_row, "last": last_row},
        )
        cursor.execute(
            """
            INSERT INTO credits_creditgrant
                (user_id, source, amount, remaining, source_ref, idempotency_key, created_at,
                 updated_at)
            SELECT %(user)s, 'PLAN', 9, 0, 'history', '', %(end)s - g * %(step)s,
                   %(end)s - g * %(step)s
              FROM generate_series(%(first)s, %(last)s, 10) AS g""",
            {"user": user.pk, "end": end, "step": STEP, "first": first_row, "last": last_row},
        )
    # ANALYZE is the tables' owner's to run (the tests act as the application's role, for
    # which PostgreSQL skips it with a warning).
    with as_owner(), connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [BIG_TABLES[0]])
        assert cursor.fetchone()[0] >= last_row, "the ledger's statistics were not updated"


def _add_other_customers(*, customers: int, days: int, end) -> list:
    """Other customers' histories, so the daily sums hold many users as in production: one
    row a day each for ``days`` days (a GRANT of 1, then a CONSUME of 1, ...; each customer
    ends at zero on a CONSUME)."""
    users = UserFactory.create_batch(customers)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credits_credittransaction
                (user_id, kind, operation, quantity, amount, balance_after, details,
                 idempotency_key, created_at)
            SELECT u, CASE WHEN d %% 2 = 1 THEN 'GRANT' ELSE 'CONSUME' END,
                   CASE WHEN d %% 2 = 1 THEN '' ELSE 'AI_TEXT_CHAT' END, 1,
                   CASE WHEN d %% 2 = 1 THEN 1 ELSE -1 END,
                   CASE WHEN d %% 2 = 1 THEN 1 ELSE 0 END,
                   '{}', '', %(end)s - (%(days)s - d) * interval '1 day'
              FROM unnest(%(users)s::bigint[]) AS u, generate_series(1, %(days)s) AS d
             ORDER BY u, d""",
            {"users": [user.pk for user in users], "days": days, "end": end},
        )
    return users


def _big_table_queries(captured) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if any(table in q["sql"] for table in BIG_TABLES)
    ]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def _measure(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), [_plan(sql) for sql in _big_table_queries(captured)]


@pytest.mark.django_db
@pytest.mark.timeout(600)
def test_page_and_summary_cost_the_same_queries_and_index_plans_at_50k_and_200k_rows(
    chat, customer, customer_client, customer_api
):
    end = timezone.now() - timedelta(hours=1)
    others = _add_other_customers(customers=20, days=5_000, end=end)
    # Recent activity through the services, after the generated history: live lots (one
    # expiring soon), consumption this month, the newest rows of the ledger.
    _add_history(customer, rows=50_000, first_row=1, end=end)
    services.grant_credits(user=customer, amount=5_000, source=GrantSource.PURCHASE)
    services.grant_credits(
        user=customer,
        amount=300,
        source=GrantSource.PROMO,
        expires_at=timezone.now() + timedelta(days=3),
    )
    for quantity in (1, 2, 3):
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=quantity)
    reads = (
        (customer_client, PAGE),
        (customer_client, PAGE + "?range=90"),
        (customer_api, SUMMARY),
    )
    for client, url in reads:  # what a first request caches (settings) is not measured
        client.get(url)
    measured = {}
    for size in (50_000, 200_000):
        if size == 200_000:
            _add_history(customer, rows=150_000, first_row=50_001, end=end)
            services.consume_credits(user=customer, operation="AI_TEXT_CHAT")
        measured[size] = {url: _measure(client, url) for client, url in reads}

    for url in (PAGE, PAGE + "?range=90", SUMMARY):
        small, big = measured[50_000][url], measured[200_000][url]
        assert small[0] == big[0], f"{url}: {small[0]} queries at 50k rows, {big[0]} at 200k"
        assert len(small[1]) == len(big[1])
        for plan in small[1] + big[1]:
            assert "Index" in plan, f"{url}: a big table read without an index:\n{plan}"
            for table in BIG_TABLES:
                assert not re.search(rf"Seq Scan on {table}\b", plan), f"{url}:\n{plan}"
    page_plans = measured[200_000][PAGE][1]
    assert any("credits_ledgerday_unique" in plan for plan in page_plans)
    # This customer holds most of the ledger and all its newest rows, so PostgreSQL may read
    # their page from the ledger's time index as cheaply as from their own (either way an
    # index read of one page, as checked above). Another customer's page, whose rows are
    # older and few, must come from the user's own index: read newest-first across
    # everyone's rows, it would pass through this customer's 200,000 first.
    other_client = Client()
    other_client.force_login(others[0])
    _count, other_plans = _measure(other_client, PAGE)
    assert any("credits_txn_user_time_idx" in plan for plan in other_plans), other_plans


@pytest.mark.django_db
@pytest.mark.timeout(600)
def test_an_older_page_of_a_long_history_is_read_from_its_place_in_the_index(
    chat, customer, customer_client
):
    end = timezone.now() - timedelta(hours=1)
    _add_history(customer, rows=50_000, first_row=1, end=end)
    services.grant_credits(user=customer, amount=100, source=GrantSource.PURCHASE)

    first = customer_client.get(PAGE)
    older = first.context["ledger"].older
    with CaptureQueriesContext(connection) as captured:
        second = customer_client.get(PAGE + f"?before={older}")

    (ledger_query,) = [
        sql
        for sql in _big_table_queries(captured)
        if "credits_credittransaction" in sql and "LIMIT 21" in sql
    ]
    plan = _plan(ledger_query)
    assert "Index" in plan and "Seq Scan" not in plan
    # The scan starts at the cursor (an index condition on created_at), not at the newest row.
    assert re.search(r"Index Cond: .*created_at <=", plan), plan
    shown = [row.created_at for row in second.context["ledger"].rows]
    assert len(shown) == 20 and shown == sorted(shown, reverse=True)
    assert shown[0] <= first.context["ledger"].rows[-1].created_at
