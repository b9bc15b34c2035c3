"""The daily sums (LedgerDay) equal the ledger whoever writes it, and the pages read them.

credits/tests/conftest.py also compares the sums with the ledger after every credits test.
"""

import importlib
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.factories import UserFactory
from credits import selectors, services
from credits.factories import funded_user
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    GrantSource,
    LedgerDay,
    TransactionKind,
    TransactionLot,
)

ledger_day_migration = importlib.import_module("credits.migrations.0006_ledger_day")


def _sums(user) -> dict[tuple, tuple[int, int]]:
    return {
        (d.day, d.kind, d.operation): (d.row_count, d.amount)
        for d in LedgerDay.objects.filter(user=user)
    }


def _ledger_sums(user) -> dict[tuple, tuple[int, int]]:
    found: dict[tuple, tuple[int, int]] = {}
    for row in CreditTransaction.objects.filter(user=user):
        key = (row.created_at.astimezone(UTC).date(), row.kind, row.operation)
        count, amount = found.get(key, (0, 0))
        found[key] = (count + 1, amount + row.amount)
    return found


@pytest.mark.django_db
def test_sums_equal_the_ledger_after_every_kind_of_movement(chat, video, customer, admin_user):
    today = timezone.now().astimezone(UTC).date()
    services.grant_signup_bonus(user=customer)
    services.grant_credits(
        user=customer, amount=500, source=GrantSource.PURCHASE, idempotency_key="order:ORD-1"
    )
    expiring = services.grant_credits(
        user=customer,
        amount=40,
        source=GrantSource.PROMO,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    chats = [
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=2)
        for _ in range(3)
    ]
    services.consume_credits(user=customer, operation="AI_VIDEO_GENERATION")
    services.refund_consumption(transaction=chats[0], reason="failed run")
    services.adjust_credits(user=customer, amount=25, reason="goodwill", actor=admin_user)
    services.adjust_credits(user=customer, amount=-5, reason="correction", actor=admin_user)
    services.claw_back_grant(
        user=customer,
        grant_idempotency_key="order:ORD-1",
        amount=50,
        reason="order refunded",
        actor=admin_user,
        idempotency_key="claw:ORD-1",
    )
    later = timezone.now() + timedelta(hours=2)
    services.expire_credits(now=later)

    sums = _sums(customer)
    assert sums == _ledger_sums(customer)
    assert sums[(today, "CONSUME", "AI_TEXT_CHAT")] == (3, -30)
    assert sums[(today, "REFUND", "AI_TEXT_CHAT")] == (1, 10)
    assert sums[(today, "CONSUME", "AI_VIDEO_GENERATION")] == (1, -40)
    assert sums[(today, "GRANT", "")] == (3, 100 + 500 + 40)
    assert sums[(today, "ADJUST", "")] == (3, 25 - 5 - 50)
    expired = CreditTransaction.objects.get(user=customer, kind="EXPIRE")
    assert expired.details["grant_id"] == expiring.details["grant_id"]
    assert sums[(later.astimezone(UTC).date(), "EXPIRE", "")] == (1, expired.amount)
    assert sum(amount for _, amount in sums.values()) == selectors.balance_of(user=customer)
    assert selectors.ledger_day_differences() == []


@pytest.mark.django_db
def test_rows_written_in_bulk_or_by_sql_are_summed_per_utc_day(customer):
    grant = services.grant_credits(user=customer, amount=1000, source=GrantSource.PROMO)
    lot_id = grant.details["grant_id"]
    # 23:59:59 and 00:00:00 UTC: two days, whatever the database session's time zone. (After
    # the grant: the invariant reads the balance from the user's last row.)
    early = datetime.combine(
        timezone.now().astimezone(UTC).date() + timedelta(days=2), time(0), tzinfo=UTC
    )
    late = early - timedelta(seconds=1)
    rows = CreditTransaction.objects.bulk_create(
        [
            CreditTransaction(
                user=customer,
                kind="CONSUME",
                operation="AI_TEXT_CHAT",
                amount=-3,
                balance_after=997,
                created_at=late,
            ),
            CreditTransaction(
                user=customer,
                kind="CONSUME",
                operation="AI_TEXT_CHAT",
                amount=-4,
                balance_after=993,
                created_at=early,
            ),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'America/Los_Angeles'")
        cursor.execute(
            """
            INSERT INTO credits_credittransaction
                (user_id, kind, operation, amount, balance_after, details, idempotency_key,
                 created_at)
            SELECT %s, 'CONSUME', 'AI_TEXT_CHAT', -1, 993 - g, '{}', '', %s
              FROM generate_series(1, 5) AS g""",
            [customer.pk, early],
        )
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    TransactionLot.objects.bulk_create(
        TransactionLot(transaction=row, grant_id=lot_id, amount=row.amount)
        for row in [*rows, *CreditTransaction.objects.filter(user=customer, amount=-1)]
    )
    CreditGrant.objects.filter(pk=lot_id).update(remaining=1000 - 12)
    CreditBalance.objects.filter(user=customer).update(balance=1000 - 12)

    sums = _sums(customer)
    assert sums[(late.date(), "CONSUME", "AI_TEXT_CHAT")] == (1, -3)
    assert sums[(early.date(), "CONSUME", "AI_TEXT_CHAT")] == (6, -9)
    assert sums == _ledger_sums(customer)


@pytest.mark.django_db
def test_a_rolled_back_movement_leaves_the_sums_as_they_were(chat, customer):
    funded_user(user=customer, credits=100)
    before = _sums(customer)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT")
        assert _sums(customer) != before  # written in the movement's transaction
        raise RuntimeError("the caller fails after consuming")

    assert _sums(customer) == before


@pytest.mark.django_db
def test_the_migrations_backfill_sums_rows_written_before_the_trigger(
    chat, video, customer, other_customer
):
    funded_user(user=customer, credits=300)
    funded_user(user=other_customer, credits=300)
    for user in (customer, other_customer):
        services.consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=3)
        services.consume_credits(user=user, operation="AI_VIDEO_GENERATION")
    expected = {user.pk: _sums(user) for user in (customer, other_customer)}
    backfill = ledger_day_migration.SUMS.format(source="credits_credittransaction")

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM credits_ledgerday")
        cursor.execute(
            "INSERT INTO credits_ledgerday "
            "(user_id, day, kind, operation, row_count, amount) " + backfill
        )

    assert {user.pk: _sums(user) for user in (customer, other_customer)} == expected


@pytest.mark.django_db
def test_usage_and_runway_read_the_sums_not_the_ledger(chat, customer):
    funded_user(user=customer, credits=300)
    used = services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=6)
    services.refund_consumption(transaction=used, reason="failed")
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=3)

    usage = selectors.usage_by_day(user=customer, days=30)
    summary = selectors.credit_summary(user=customer)

    assert usage["series"] == {"AI_TEXT_CHAT": [0] * 29 + [15]}  # 30 + 15 used, 30 refunded
    assert summary["runway_days"] == round(summary["balance"] / (45 / 30), 1)
    # The sums are what the figures come from: a day's sums alone move the chart.
    LedgerDay.objects.filter(user=customer, kind=TransactionKind.CONSUME).update(amount=-300)
    assert selectors.usage_by_day(user=customer, days=30)["totals"][-1] == 270
    LedgerDay.objects.filter(user=customer, kind=TransactionKind.CONSUME).update(amount=-45)


@pytest.mark.django_db
def test_usage_counts_days_in_utc_and_ignores_days_outside_the_range(customer):
    grant = services.grant_credits(user=customer, amount=100, source=GrantSource.PROMO)
    # Days ahead of the grant: the invariant reads the balance from the user's last row.
    now = datetime.combine(
        timezone.now().astimezone(UTC).date() + timedelta(days=3), time(0, 30), tzinfo=UTC
    )
    moments = [now - timedelta(days=30), now - timedelta(hours=1), now, now + timedelta(days=2)]
    rows = CreditTransaction.objects.bulk_create(
        CreditTransaction(
            user=customer,
            kind="CONSUME",
            operation="AI_TEXT_CHAT",
            amount=-1,
            balance_after=99 - i,
            created_at=moment,
        )
        for i, moment in enumerate(moments)
    )
    TransactionLot.objects.bulk_create(
        TransactionLot(transaction=row, grant_id=grant.details["grant_id"], amount=-1)
        for row in rows
    )
    CreditGrant.objects.filter(pk=grant.details["grant_id"]).update(remaining=96)
    CreditBalance.objects.filter(user=customer).update(balance=96)

    usage = selectors.usage_by_day(user=customer, days=30, now=now)

    assert usage["days"][-1] == now.date()
    assert usage["totals"][-2:] == [1, 1]  # yesterday 23:30 UTC and today 00:30 UTC
    assert sum(usage["totals"]) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_movements_keep_the_sums_equal_to_the_ledger(chat):
    users = [funded_user(user=UserFactory(), credits=10_000) for _ in range(3)]
    errors = []

    def consume(user):
        try:
            for _ in range(15):
                services.consume_credits(user=user, operation="AI_TEXT_CHAT")
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    # Two threads per user (they queue on the balance row) and three users at once.
    threads = [threading.Thread(target=consume, args=(user,)) for user in users * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert selectors.ledger_day_differences() == []
    for user in users:
        today = CreditTransaction.objects.filter(user=user, kind="CONSUME").first().created_at
        assert _sums(user)[(today.astimezone(UTC).date(), "CONSUME", "AI_TEXT_CHAT")] == (30, -150)
