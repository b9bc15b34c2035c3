"""Benchmark: one day's analytics rollup against a hand-written GROUP BY, and against history.

    .venv/bin/python -m bench.rollup [--rows 1000000] [--subscriptions 20000]
                                     [--customers 20000] [--days 365] [--repeat 15] [--keep]

``python -m bench`` runs it at the same size (1,000,000 ledger rows, 25,000 customers and
subscriptions). Targets: the day's rollup within 1.5x of the hand-written GROUP BY (the
ledger family alone, and ledger + MRR), and within 1.25x of itself after the history doubled.

What it does, in a database of its own (``bench_analytics_rollup``, cloned from the migrated
template that bench.common keeps between runs; dropped at the end unless ``--keep``):

1. Generates ``--customers`` customers, ``--subscriptions`` subscriptions on one plan
   (monthly usd, yearly usd and monthly eur prices; ~70 % live, the rest canceled during the
   history) and ``--rows`` credit-ledger rows spread evenly over ``--days`` days ending on the
   benchmark day D. Rows are made by the server with INSERT ... SELECT generate_series (a bulk
   insert: no Python loop over rows).
2. Times ``rollup_day(D, ["credits", "mrr"])`` (the real code: two grouped queries and the
   store, in its transaction) against the same figures written by hand as one
   GROUP BY each over the raw tables, median of ``--repeat`` rounds that run each in turn (so
   a change in the machine's load weighs on both); checks the figures agree and prints the
   ratio.
3. Doubles the history: as many ledger rows again and as many canceled subscriptions again,
   all BEFORE the existing history (D itself gains nothing), VACUUM ANALYZE (as autovacuum
   would after such a load), and times D's rollup
   again. The ledger family's time stays flat (index range scan on kind + created_at); the
   output prints both and the ratio, plus EXPLAIN for the ledger query.

Not part of the test suite. Needs the embedded PostgreSQL (or DATABASE_URL) as the app does.

Sample run (as ``python -m bench`` runs it: 25,000 customers and subscriptions; 2 cores,
5 Dec 2026):

    Generated 25,000 customers, 25,000 subscriptions, 1,000,000 ledger rows ... in 59.8s
    [history 365 days] rollup_day(D, credits):       7.1 ms   hand-written GROUP BY:  5.5 ms   1.30x
    [history 365 days] rollup_day(D, credits+mrr):  15.2 ms   hand-written GROUP BY: 30.3 ms   0.50x
    [history 365 days] subscription write with MRR kept: 2.18 ms   without the triggers: 1.38 ms
    Doubled the history (2,000,000 ledger rows, 50,000 subscriptions) in 74.9s
    [history 730 days] rollup_day(D, credits+mrr):  17.4 ms   hand-written GROUP BY: 29.1 ms   0.60x
    Doubling history changed D's rollup time by 1.14x

The credits family stays under ~1 ms whatever the ledger's length (an index range scan over
the day's rows). The MRR family reads the customers' MRR spans that the database keeps
(``analytics.CustomerMRR``, recomputed by triggers when a subscription, a plan change or a
price changes): one scan of the spans open at the day's end, found by index, so canceled
history does not weigh on it. What that costs the writes is printed beside it: a subscription's
seat change with the triggers, against the same write with them off for the session
(``session_replication_role``, which needs a superuser; the row is left out otherwise).
``--subscription-indexes`` adds partial indexes on billing's cancellation columns, which the
subscription counts' scan (not timed here) could use.
"""

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/rollup.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import connection, transaction  # noqa: E402

from bench.common import (  # noqa: E402
    Result,
    alternating_medians,
    run_main,
    scratch_database,
    setup_django,
    write_results,
)
from bench.mrr_writes import measure_write  # noqa: E402

DB = "bench_analytics_rollup"
DAY = date(2026, 6, 30)  # the benchmark day D


def _filler_insert(table: str, count: int, values: dict[str, str], start: int = 1) -> None:
    """INSERT ... SELECT over generate_series(start, start + count - 1) AS g. ``values`` maps
    columns to SQL expressions in g; other NOT NULL columns get a neutral value by type."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL
        """,
            [table],
        )
        neutral = {
            "text": "''",
            "character varying": "''",
            "boolean": "false",
            "integer": "0",
            "bigint": "0",
            "smallint": "0",
            "numeric": "0",
            "jsonb": "'{}'::jsonb",
            "timestamp with time zone": "now()",
            "date": "current_date",
            "ARRAY": "'{}'",
        }
        columns = dict(values)
        for name, data_type in cursor.fetchall():
            if name not in columns and name != "id":
                columns[name] = neutral[data_type]
        names = ", ".join(f'"{c}"' for c in columns)
        exprs = ", ".join(columns.values())
        # No parameters: the expressions use % (modulo) literally.
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {exprs} "
            f"FROM generate_series({int(start)}, {int(start + count - 1)}) AS g"
        )


class _History:
    """Writes the benchmark's history: customers (made once), subscriptions and ledger rows,
    in batches numbered from ``start`` so a later batch adds to the first."""

    def __init__(self, args) -> None:
        from catalog.factories import PlanFactory, RecurringPriceFactory  # noqa: PLC0415 - Django is set up when the bench runs

        self.args = args
        self.end_of_day = f"timestamptz '{DAY + timedelta(days=1)} 00:00+00'"
        self.first_user = self._customers()
        self.plan = PlanFactory(monthly_price__unit_amount=2900, yearly_price__unit_amount=29000)
        eur = RecurringPriceFactory(product=self.plan.product, unit_amount=1900, currency="eur")
        self.prices = f"ARRAY[{self.plan.monthly_price_id}, {self.plan.yearly_price_id}, {eur.pk}]"
        self.history = args.days * 86400

    def _customers(self) -> int:
        """``--customers`` customers, made long before D; the first one's id."""
        _filler_insert(
            "accounts_user",
            self.args.customers,
            {
                "email": "'bench' || g || '@example.com'",
                "password": "'!'",
                "role": "'CUSTOMER'",
                "status": "'ACTIVE'",
                "is_active": "true",
                "timezone": "'UTC'",
                "language": "'en'",
                "created_at": f"{self.end_of_day} - interval '800 days'",
                "updated_at": f"{self.end_of_day} - interval '800 days'",
            },
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM accounts_user")
            return cursor.fetchone()[0]

    def subscriptions(self, count: int, start: int, offset_seconds: int) -> None:
        # The first batch: ~70 % live, 30 % canceled during the history. Later batches
        # (offset further back): all canceled a day after they started, long before D.
        _filler_insert(
            "billing_subscription",
            count,
            {
                "user_id": f"{self.first_user} + (g % {self.args.customers})",
                "plan_id": str(self.plan.pk),
                "price_id": f"({self.prices})[1 + g % 3]",
                "quantity": "1",
                "status": f"CASE WHEN g % 10 < 7 AND g <= {self.args.subscriptions} THEN 'ACTIVE' "
                "ELSE 'CANCELED' END",
                "created_at": f"{self.end_of_day} - make_interval(secs => {offset_seconds} + "
                f"{self.history}::numeric * ((g * 7919) % 1000 + 1000) / 2000.0 + 86400)",
                "updated_at": "now()",
                "billing_source": "'manual'",
                "metadata": "'{}'::jsonb",
                "cancel_at_period_end": "false",
            },
            start=start,
        )
        ends = (
            "created_at + interval '1 day'"
            if offset_seconds
            else f"created_at + ({self.end_of_day} - interval '1 day' - created_at) "
            "* ((id * 31) % 100) / 100.0"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"""
                UPDATE billing_subscription SET canceled_at = {ends}
                WHERE status = 'CANCELED' AND canceled_at IS NULL""")

    def ledger(self, count: int, start: int) -> None:
        from credits.models import CreditTransaction  # noqa: PLC0415 - Django is set up when the bench runs

        step = self.history / self.args.rows  # same density per day whatever the history length
        _filler_insert(
            CreditTransaction._meta.db_table,
            count,
            {
                "user_id": f"{self.first_user} + (g % {self.args.customers})",
                "kind": "CASE WHEN g % 10 = 0 THEN 'GRANT' ELSE 'CONSUME' END",
                "operation": "CASE WHEN g % 10 = 0 THEN '' ELSE (ARRAY['AI_TEXT_CHAT', "
                "'AI_IMAGE_GENERATION', 'AI_VIDEO_GENERATION', 'SHORTS_SCRIPT', "
                "'SHORTS_MEDIA'])[1 + g % 5] END",
                "quantity": "1",
                "amount": "CASE WHEN g % 10 = 0 THEN 100 ELSE -(1 + g % 7) END",
                "balance_after": "50",
                "details": "'{}'::jsonb",
                "idempotency_key": "''",
                "created_at": f"{self.end_of_day} - make_interval(secs => g * {step})",
            },
            start=start,
        )


def _vacuum_analyze() -> None:
    """What autovacuum does to tables a bulk load churned, before anything is timed: the
    history is written in one burst, and the MRR triggers rewrite each customer's spans as
    their subscriptions arrive, leaving dead rows (three for every live one after doubling)
    that a production server's autovacuum clears well before a nightly rollup reads them."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def generate(args) -> dict:
    history = _History(args)
    t0 = time.perf_counter()
    history.subscriptions(args.subscriptions, 1, 0)
    history.ledger(args.rows, 1)
    _vacuum_analyze()
    print(
        f"Generated {args.customers:,} customers, {args.subscriptions:,} subscriptions, "
        f"{args.rows:,} ledger rows over {args.days} days in {time.perf_counter() - t0:.1f}s"
    )
    return {"subscriptions": history.subscriptions, "ledger": history.ledger}


# What billing would add (proposed in the analytics report): the canceled subscriptions that
# can still matter for a day are found by index, not by scanning every canceled row.
SUBSCRIPTION_INDEXES = [
    "CREATE INDEX bench_sub_canceled_at ON billing_subscription (canceled_at) "
    "WHERE status = 'CANCELED'",
    "CREATE INDEX bench_sub_canceled_period_end ON billing_subscription (current_period_end) "
    "WHERE status = 'CANCELED'",
    "CREATE INDEX bench_sub_canceled_no_date ON billing_subscription (id) "
    "WHERE status = 'CANCELED' AND canceled_at IS NULL",
]

HAND_LEDGER = """
    SELECT kind, operation, SUM(ABS(amount)) FROM credits_credittransaction
    WHERE created_at >= %(start)s AND created_at < %(end)s
      AND kind IN ('GRANT', 'CONSUME', 'REFUND', 'EXPIRE')
    GROUP BY kind, operation
"""
# Today's MRR written the naive way: live subscriptions, no history reconstruction.
HAND_MRR = """
    SELECT p.currency, ROUND(SUM(s.quantity * p.unit_amount::numeric
        * CASE p.interval WHEN 'year' THEN 1 / 12.0 ELSE 1 END / p.interval_count), 2)
    FROM billing_subscription s JOIN catalog_price p ON p.id = s.price_id
    WHERE s.status IN ('ACTIVE', 'PAST_DUE') GROUP BY p.currency
"""


HAND_MRR_ROWS = f"SELECT currency, '', mrr FROM ({HAND_MRR}) AS live(currency, mrr)"


# The baseline stores what it computes, as the rollup does: the same GROUP BY written by hand
# as INSERT ... SELECT into a table of the same shape, replacing the day's rows in one
# transaction (so both pay for a write and a durable commit).
HAND_TABLE = "bench_hand_metric"


def _create_hand_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"""CREATE TABLE IF NOT EXISTS {HAND_TABLE} (
            day date, family text, kind text, key text, value numeric,
            PRIMARY KEY (day, family, kind, key))""")


def _store(cursor, family: str, select_sql: str, params: dict) -> list:
    cursor.execute(
        f"DELETE FROM {HAND_TABLE} WHERE day = %(day)s AND family = %(family)s",
        {"day": DAY, "family": family},
    )
    cursor.execute(
        f"INSERT INTO {HAND_TABLE} SELECT %(day)s, %(family)s, * FROM "
        f"({select_sql}) AS computed RETURNING kind, key, value",
        {**params, "day": DAY, "family": family},
    )
    return cursor.fetchall()


def _hand_ledger(start, end) -> list:
    """The ledger family by hand: [(kind, operation, credits)] for the day, stored."""
    with transaction.atomic(), connection.cursor() as cursor:
        return _store(cursor, "ledger", HAND_LEDGER, {"start": start, "end": end})


def _hand(start, end) -> tuple[list, list]:
    """Ledger and today's MRR by hand, stored: ([(kind, operation, credits)],
    [(currency, "", mrr)])."""
    with transaction.atomic(), connection.cursor() as cursor:
        ledger = _store(cursor, "ledger", HAND_LEDGER, {"start": start, "end": end})
        mrr = _store(cursor, "mrr", HAND_MRR_ROWS, {})
    return ledger, [(currency, value) for currency, _, value in mrr]


def measure_ledger(args, label: str) -> tuple[float, float]:
    """The ledger family alone, as the nightly task writes it (lock, query, delete, insert),
    against the hand-written GROUP BY over the same day's ledger rows."""
    from analytics.metrics.base import day_bounds  # noqa: PLC0415 - Django is set up when the bench runs
    from analytics.rollup import rollup_day  # noqa: PLC0415 - Django is set up when the bench runs

    start, end = day_bounds(DAY)
    _create_hand_table()
    rollup, hand = alternating_medians(
        [lambda: rollup_day(DAY, ["credits"]), lambda: _hand_ledger(start, end)], args.repeat
    )
    print(
        f"[{label}] rollup_day(D, credits):     {rollup * 1000:8.1f} ms   "
        f"hand-written GROUP BY: {hand * 1000:8.1f} ms   ratio {rollup / hand:5.2f}x"
    )
    return rollup, hand


def measure(args, label: str) -> tuple[float, float]:
    from analytics.metrics.base import day_bounds  # noqa: PLC0415 - Django is set up when the bench runs
    from analytics.models import DailyMetric  # noqa: PLC0415 - Django is set up when the bench runs
    from analytics.rollup import rollup_day  # noqa: PLC0415 - Django is set up when the bench runs

    start, end = day_bounds(DAY)
    from analytics.metrics import REGISTRY  # noqa: PLC0415 - Django is set up when the bench runs

    rollup, hand, ledger_q, mrr_q = alternating_medians(
        [
            lambda: rollup_day(DAY, ["credits", "mrr"]),
            lambda: _hand(start, end),
            lambda: REGISTRY["credits"].compute(DAY),
            lambda: REGISTRY["mrr"].compute(DAY),
        ],
        args.repeat,
    )
    queries = ledger_q + mrr_q
    ledger, mrr = _hand(start, end)
    stored = {(r.metric, r.dimension): r.value for r in DailyMetric.objects.filter(date=DAY)}
    consumed = sum(v for kind, _, v in ledger if kind == "CONSUME")
    agree = stored[("credits_consumed", "")] == consumed and all(
        stored[("mrr", cur)] == value for cur, value in mrr
    )
    print(
        f"[{label}] rollup_day(D, credits+mrr): {rollup * 1000:8.1f} ms   "
        f"hand-written GROUP BY: {hand * 1000:8.1f} ms   ratio {rollup / hand:5.2f}x   "
        f"figures agree: {agree}"
    )
    print(
        f"[{label}]   of which the two families' queries alone: {queries * 1000:8.1f} ms "
        f"(ratio {queries / hand:5.2f}x; the rest is the transaction: its lock and the store)"
    )
    print(
        f"[{label}]   credits family {ledger_q * 1000:6.1f} ms, mrr family {mrr_q * 1000:6.1f} ms"
    )
    if not agree:
        raise SystemExit("The rollup and the hand-written SQL disagree.")
    return rollup, hand


def explain_ledger() -> None:
    from analytics.metrics.base import day_bounds  # noqa: PLC0415 - Django is set up when the bench runs

    start, end = day_bounds(DAY)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + HAND_LEDGER, {"start": start, "end": end}
        )
        print("  " + "\n  ".join(row[0] for row in cursor.fetchall()[:8]))


def _double_history(args, make: dict) -> None:
    """The same history again, before the first: as many ledger rows and subscriptions."""
    t0 = time.perf_counter()
    make["ledger"](args.rows, args.rows + 1)  # the same again, before the history
    make["subscriptions"](args.subscriptions, args.subscriptions + 1, args.days * 86400)
    _vacuum_analyze()
    print(
        f"Doubled the history ({2 * args.rows:,} ledger rows, "
        f"{2 * args.subscriptions:,} subscriptions) in {time.perf_counter() - t0:.1f}s"
    )


def _results(args, ledger: tuple, both: tuple, doubled: float, write) -> list[Result]:
    ledger_rollup, ledger_hand = ledger
    base, hand = both
    results = [
        Result(
            "rollup",
            f"rollup_day, ledger family, {args.rows:,} ledger rows",
            ledger_rollup * 1000,
            ledger_hand * 1000,
            "ms",
            "hand-written GROUP BY, stored",
            higher_is_better=False,
            target="ratio <= 1.5",
        ),
        # The MRR family reads the customers' MRR spans the database keeps (each live
        # customer's MRR as of any instant, plan changes included); the hand-written query
        # sums today's prices over the subscriptions.
        Result(
            "rollup",
            f"rollup_day, ledger + MRR ({args.subscriptions:,} subscriptions)",
            base * 1000,
            hand * 1000,
            "ms",
            "hand-written GROUP BYs, live prices, stored",
            higher_is_better=False,
            target="ratio <= 1.5",
        ),
        # A day's rollup should not cost more because older history exists.
        Result(
            "rollup",
            "rollup_day after doubling history",
            doubled * 1000,
            base * 1000,
            "ms",
            "rollup_day before doubling",
            higher_is_better=False,
            target="ratio <= 1.25",
        ),
    ]
    if write:
        # No target: what the MRR row's speed costs elsewhere, shown beside it.
        results.append(
            Result(
                "rollup",
                "subscription write, its customer's MRR kept by triggers",
                write[0] * 1000,
                write[1] * 1000,
                "ms",
                "the same write, triggers off",
                higher_is_better=False,
            )
        )
    return results


def run(args) -> list[Result]:
    make = generate(args)
    if args.subscription_indexes:
        with connection.cursor() as cursor:
            for sql in SUBSCRIPTION_INDEXES:
                cursor.execute(sql)
            cursor.execute("ANALYZE billing_subscription")
    ledger_rollup, ledger_hand = measure_ledger(args, f"history {args.days} days")
    base, hand = measure(args, f"history {args.days} days")
    write = measure_write(args, f"history {args.days} days")
    print("  ledger query plan for D:")
    explain_ledger()

    _double_history(args, make)
    doubled, _ = measure(args, f"history {2 * args.days} days")
    print(
        f"Doubling history changed D's rollup time by {doubled / base:.2f}x "
        f"(2.00x would mean the cost follows history).",
        flush=True,
    )
    return _results(args, (ledger_rollup, ledger_hand), (base, hand), doubled, write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument(
        "--subscription-indexes",
        action="store_true",
        help="Add partial indexes on billing's cancellation columns (for the subscription "
        "counts' scan, which is not timed here).",
    )
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    setup_django()
    with scratch_database(DB, keep=args.keep):
        results = run(args)
    write_results(args.json, results)


if __name__ == "__main__":
    run_main(main)
