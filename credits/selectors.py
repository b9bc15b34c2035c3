"""Reads for the credits pages and API: costs, the balance summary, usage, the ledger."""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from catalog.models import Plan
from core.prepared import prepared_cursor
from credits import plans
from credits.errors import UnknownOperation
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    FeatureCost,
    InvariantCheck,
    LedgerDay,
    TransactionKind,
)

logger = logging.getLogger(__name__)

EXPIRING_SOON_DAYS = 7
RUNWAY_WINDOW_DAYS = 30


def _plan_overrides(*, user: User) -> dict[str, int]:
    """The user's plan's per-operation costs; overrides that are not whole numbers ≥ 1 are
    ignored (logged), so a typo in a plan's JSON can never make an operation free."""
    plan = plans.plan_for_user(user=user)
    raw = getattr(plan, "feature_cost_overrides", None) or {}
    overrides = {}
    for operation, cost in raw.items():
        if isinstance(cost, int) and not isinstance(cost, bool) and cost >= 1:
            overrides[operation] = cost
        else:
            logger.warning(
                "Plan %s: ignoring cost override %r=%r (must be an integer >= 1)",
                getattr(plan, "pk", None),
                operation,
                cost,
            )
    return overrides


def cost_for(*, user: User, operation: str) -> int:
    """Credits one unit of ``operation`` costs this user. Raises UnknownOperation when the
    operation does not exist or is inactive (a plan override never revives it)."""
    base = (
        FeatureCost.objects.filter(operation=operation, active=True)
        .values_list("cost", flat=True)
        .first()
    )
    if base is None:
        raise UnknownOperation(f"Unknown or inactive operation {operation!r}.")
    return _plan_overrides(user=user).get(operation, base)


def costs_for_user(*, user: User) -> list[dict]:
    """Every active operation with this user's cost, the list price and whether it differs."""
    overrides = _plan_overrides(user=user)
    rows = []
    features = list(FeatureCost.objects.filter(active=True).order_by("operation"))
    owned = active_plans = None
    if any(feature.required_entitlement for feature in features):
        owned = plans.entitlements_for(user=user)
        active_plans = list(Plan.objects.filter(active=True).order_by("sort_order", "id"))
    for feature in features:
        cost = overrides.get(feature.operation, feature.cost)
        rows.append(
            {
                "operation": feature.operation,
                "name": feature.name,
                "description": feature.description,
                "tags": feature.tags,
                "cost": cost,
                "base_cost": feature.cost,
                "overridden": cost != feature.cost,
                # None, or what the customer's plan lacks and which plans include it.
                "upgrade": (
                    plans.upgrade_prompt(
                        user, feature.required_entitlement, owned=owned, plans=active_plans
                    )
                    if feature.required_entitlement
                    else None
                ),
            }
        )
    return rows


def balance_of(*, user: User) -> int:
    return CreditBalance.objects.filter(user=user).values_list("balance", flat=True).first() or 0


def utc_today(now: datetime | None = None) -> date:
    """Today as the ledger's daily sums count days (``LedgerDay``: UTC days)."""
    return (now or timezone.now()).astimezone(UTC).date()


# The balance, the last 30 UTC days' consumption (for the runway) and the live lots, in one
# round trip: the figures come from the balance row and the ledger's daily sums (a bounded
# index range whatever the history), and head every row; each lot adds a row (the live-lots
# index, in draw order), and a customer with none gets one row of figures with NULL lot columns.
_LOT_COLUMNS = [field.column for field in CreditGrant._meta.concrete_fields]
_LOT_ATTNAMES = [field.attname for field in CreditGrant._meta.concrete_fields]
_SUMMARY_TEMPLATE = """
    SELECT f.balance, f.consumed, {lot_columns}
    FROM (SELECT COALESCE((SELECT balance FROM {balances} WHERE user_id = %(user)s), 0),
                 COALESCE((SELECT SUM(amount) FROM {days}
                           WHERE user_id = %(user)s AND kind = %(consume)s
                             AND day >= %(first)s), 0)) AS f (balance, consumed)
    LEFT JOIN {lots} g
           ON g.user_id = %(user)s AND g.expired_at IS NULL AND g.has_credits
    ORDER BY g.expires_at ASC NULLS LAST, g.id
"""
# Table and column names from the models: constants, never input.
_SUMMARY_SQL = _SUMMARY_TEMPLATE.format(
    lot_columns=", ".join(f"g.{column}" for column in _LOT_COLUMNS),
    balances=CreditBalance._meta.db_table,
    days=LedgerDay._meta.db_table,
    lots=CreditGrant._meta.db_table,
)


def credit_summary(*, user: User, now: datetime | None = None) -> dict:
    """What the credits page and ``GET /api/v1/credits/`` show at the top: one statement
    (the figures and the live lots, in the order consumption draws from them), whatever the
    history."""
    now = now or timezone.now()
    first_day = utc_today(now) - timedelta(days=RUNWAY_WINDOW_DAYS - 1)
    with prepared_cursor() as cursor:  # the same text on every request
        cursor.execute(
            _SUMMARY_SQL,
            {"user": user.pk, "consume": TransactionKind.CONSUME, "first": first_day},
        )
        fetched = cursor.fetchall()
    balance, consumed = fetched[0][0], fetched[0][1]
    # Model instances, as the ORM builds them from a full row (the pages call their methods).
    lots = [
        CreditGrant.from_db(connection.alias, _LOT_ATTNAMES, row[2:])
        for row in fetched
        if row[2] is not None
    ]
    used = -consumed
    soon = now + timedelta(days=EXPIRING_SOON_DAYS)
    return {
        "balance": balance,
        "lots": lots,
        "expiring_soon": [lot for lot in lots if lot.expires_at and lot.expires_at <= soon],
        "runway_days": (round(balance / (used / RUNWAY_WINDOW_DAYS), 1) if used > 0 else None),
    }


def transactions_for(*, user: User, kind: str = "", operation: str = "") -> QuerySet:
    """The user's ledger, newest first, optionally narrowed by kind and operation."""
    rows = CreditTransaction.objects.filter(user=user)
    if kind:
        rows = rows.filter(kind=kind)
    if operation:
        rows = rows.filter(operation=operation)
    return rows.order_by("-created_at", "-id")


def usage_by_day(*, user: User, days: int, now: datetime | None = None) -> dict:
    """Credits consumed per day and operation over the last ``days`` UTC days (today
    included), from the daily sums.

    Returns ``{"days": [date, ...], "operations": [key, ...], "series": {key: [int per day]},
    "totals": [int per day], "max": int}``; refunds of a consumption (the only REFUND rows
    the ledger holds) are netted out of the day the refund happened.
    """
    today = utc_today(now)
    first: date = today - timedelta(days=days - 1)
    rows = (
        LedgerDay.objects.filter(
            user=user,
            kind__in=[TransactionKind.CONSUME, TransactionKind.REFUND],
            day__range=(first, today),
        )
        .values("day", "operation")
        .annotate(total=Sum("amount"))
        .order_by("day", "operation")
    )
    day_list = [first + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(day_list)}
    series: dict[str, list[int]] = {}
    for row in rows:
        values = series.setdefault(row["operation"] or "OTHER", [0] * days)
        values[index[row["day"]]] += -row["total"]
    totals = [sum(values[i] for values in series.values()) for i in range(days)]
    return {
        "days": day_list,
        "operations": sorted(series),
        "series": series,
        "totals": totals,
        "max": max(totals, default=0),
    }


LEDGER_DAY_DIFFERENCES = """
    WITH raw AS (
        SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day, kind, operation,
               COUNT(*) AS row_count, SUM(amount) AS amount
          FROM credits_credittransaction {where}
         GROUP BY 1, 2, 3, 4)
    SELECT user_id, day, kind, operation, raw.row_count, raw.amount, d.row_count, d.amount
      FROM raw FULL JOIN (SELECT * FROM credits_ledgerday {where}) d
           USING (user_id, day, kind, operation)
     WHERE raw.row_count IS DISTINCT FROM d.row_count OR raw.amount IS DISTINCT FROM d.amount
     ORDER BY 1, 2, 3, 4
     LIMIT %(limit)s
"""


def ledger_day_differences(*, user: User | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Where the daily sums (``LedgerDay``) differ from the ledger they sum: empty when they
    agree. Reads the whole ledger (or the user's): for tests and checks, not for pages."""
    where = "WHERE user_id = %(user)s" if user is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            LEDGER_DAY_DIFFERENCES.format(where=where),
            {"user": None if user is None else user.pk, "limit": limit},
        )
        return [
            {
                "user_id": u,
                "day": day,
                "kind": kind,
                "operation": op,
                "ledger": (rows, amount),
                "sums": (d_rows, d_amount),
            }
            for u, day, kind, op, rows, amount, d_rows, d_amount in cursor.fetchall()
        ]


# --- the ledger, a page at a time ------------------------------------------------------------

_CURSOR = re.compile(r"(\d{1,18})-(\d{1,18})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ledger_cursor(row: CreditTransaction) -> str:
    """A row's place in the ledger's order (created_at, id), for a link: "<µs>-<id>"."""
    return f"{(row.created_at - _EPOCH) // timedelta(microseconds=1)}-{row.pk}"


def parse_ledger_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The place a cursor names, or None for a missing or malformed one."""
    found = _CURSOR.fullmatch(value or "")
    if not found:
        return None
    try:
        moment = _EPOCH + timedelta(microseconds=int(found[1]))
    except OverflowError:
        return None
    return moment, int(found[2])


@dataclass(frozen=True)
class LedgerPage:
    rows: list[CreditTransaction]
    newer: str | None  # cursor for ?after=, when newer rows exist
    older: str | None  # cursor for ?before=, when older rows exist


def ledger_page(
    *, user: User, size: int, before: str | None = None, after: str | None = None
) -> LedgerPage:
    """One page of the user's ledger, newest first, by keyset: the rows just older than
    ``before`` (or just newer than ``after``), never an OFFSET or a COUNT, so the page costs
    the same on a long history (``credits_txn_user_time_idx``). A malformed cursor, or an
    ``after`` with less than a page of newer rows, gives the newest page."""
    rows = CreditTransaction.objects.filter(user=user)
    if place := parse_ledger_cursor(after):
        moment, pk = place
        # created_at >= moment bounds the index scan; the OR settles ties on the same instant.
        newer = list(
            rows.filter(
                Q(created_at__gt=moment) | Q(created_at=moment, id__gt=pk), created_at__gte=moment
            ).order_by("created_at", "id")[: size + 1]
        )
        if len(newer) > size:
            page = newer[:size][::-1]
            return LedgerPage(page, ledger_cursor(page[0]), ledger_cursor(page[-1]))
    newest_first = rows.order_by("-created_at", "-id")
    place = parse_ledger_cursor(before)
    if place:
        moment, pk = place
        newest_first = newest_first.filter(
            Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk), created_at__lte=moment
        )
    found = list(newest_first[: size + 1])
    page = found[:size]
    if place and not page:  # a cursor past the oldest row: only a hand-made link
        return ledger_page(user=user, size=size)
    return LedgerPage(
        page,
        ledger_cursor(page[0]) if place and page else None,
        ledger_cursor(page[-1]) if len(found) > size else None,
    )


def last_invariant_check() -> InvariantCheck | None:
    """The latest recorded run of the ledger check, or None if it never ran."""
    return InvariantCheck.objects.order_by("-created_at", "-id").first()
