"""Credits: what was granted and consumed (from the ledger), and customers running low."""

from decimal import Decimal

from accounts.models import Role, User
from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, fetch
from analytics.metrics.registry import register
from core.system_config import get_config
from credits.models import CreditTransaction

LEDGER_DEFINITION = """
From the credits ledger, rows written during the day (UTC). GRANTED = credits added by GRANT
rows (signup bonus, plan renewal, packs, promotions). CONSUMED = credits spent by CONSUME
rows, per operation key and in total ("" dimension). REFUNDED = credits given back by REFUND
rows (failed operations, refunds), per operation and in total. EXPIRED = credits removed by
EXPIRE rows. Staff ADJUST rows are not counted in any of these.
"""

LEDGER_METRIC = {
    "GRANT": "credits_granted",
    "CONSUME": "credits_consumed",
    "REFUND": "credits_refunded",
    "EXPIRE": "credits_expired",
}


def compute_ledger(day) -> list[Row]:
    start, end = day_bounds(day)
    # One pass over the day's rows, grouped by kind and operation; each kind's total is the
    # sum of its groups (summed here rather than by a second grouping in the database). The
    # ledger's time index (credits_txn_time_idx) keeps the scan to the day's rows, which lie
    # together as the ledger is written in time order.
    template = """
        SELECT kind, operation, SUM(ABS(amount)), COUNT(*)
        FROM {ledger}
        WHERE kind IN ('GRANT', 'CONSUME', 'REFUND', 'EXPIRE')
          AND created_at >= %(start)s AND created_at < %(end)s
        GROUP BY kind, operation
    """
    groups: dict[str, list[tuple[str, Decimal, int]]] = {}
    # Prepared: the same plan (the time index's range) whatever the day.
    found = fetch(template, {"start": start, "end": end}, prepared=True, ledger=CreditTransaction)
    for kind, operation, credits, count in found:
        groups.setdefault(kind, []).append((operation, Decimal(credits), count))
    rows = []
    for kind in sorted(groups):
        metric = LEDGER_METRIC[kind]
        found = sorted(groups[kind])
        total = sum((credits for _, credits, _ in found), Decimal(0))
        rows.append(Row(metric, total, "", {"transactions": sum(count for *_, count in found)}))
        if kind in ("CONSUME", "REFUND"):
            rows += [
                Row(metric, credits, operation, {"transactions": count})
                for operation, credits, count in found
                if operation
            ]
    # Explicit zeros for quiet days, so the charts show a flat line rather than a gap.
    totals = {LEDGER_METRIC[kind] for kind in groups}
    rows += [Row(metric, Decimal(0)) for metric in LEDGER_METRIC.values() if metric not in totals]
    return rows


LEDGER = register(
    MetricFamily(
        key="credits",
        title="Credits granted and consumed",
        version=1,
        definition=LEDGER_DEFINITION,
        metrics=(
            Metric("credits_granted", "Credits granted", Unit.CREDITS),
            Metric("credits_consumed", "Credits consumed", Unit.CREDITS, "operation"),
            Metric("credits_refunded", "Credits refunded", Unit.CREDITS, "operation"),
            Metric("credits_expired", "Credits expired", Unit.CREDITS),
        ),
        compute=compute_ledger,
    )
)


LOW_BALANCE_DEFINITION = """
Customers (CUSTOMER role, not deleted, joined by the end of the day) whose credit balance at
the end of the day (UTC) is below the low_balance_threshold setting (read when the day is
rolled up; the metadata records it). A customer's balance at that moment is the balance_after
of their last ledger row before midnight, 0 when they have none.
"""


def compute_low_balance(day) -> list[Row]:
    _, end = day_bounds(day)
    threshold = int(get_config("low_balance_threshold"))
    # One index probe per customer (user, -created_at): the cost follows the number of
    # customers, not the length of the ledger.
    template = """
        SELECT COUNT(*) FILTER (WHERE balance < %(threshold)s), COUNT(*)
        FROM (
            SELECT COALESCE((
                SELECT t.balance_after FROM {ledger} t
                WHERE t.user_id = u.id AND t.created_at < %(end)s
                ORDER BY t.created_at DESC, t.id DESC LIMIT 1), 0) AS balance
            FROM {users} u
            WHERE u.role = %(role)s AND u.deleted_at IS NULL AND u.created_at < %(end)s
        ) balances
    """
    low, customers = fetch(
        template,
        {"end": end, "threshold": threshold, "role": Role.CUSTOMER},
        ledger=CreditTransaction,
        users=User,
    )[0]
    return [
        Row(
            "low_balance_customers",
            Decimal(low),
            "",
            {"threshold": threshold, "customers": customers},
        )
    ]


LOW_BALANCE = register(
    MetricFamily(
        key="credit_balances",
        title="Customers with a low credit balance",
        version=1,
        definition=LOW_BALANCE_DEFINITION,
        metrics=(
            Metric(
                "low_balance_customers", "Customers below the low-balance threshold", Unit.COUNT
            ),
        ),
        compute=compute_low_balance,
    )
)
