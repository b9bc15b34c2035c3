"""A large, realistic history for existing customers (``manage.py seed_history``), written
with PostgreSQL ``COPY``: enough rows to see how pages, lists and exports behave with years of
use (a million ledger rows take seconds, not hours).

What it writes, for the first ``customers`` customers by id (one of them, the first, takes
``HEAVY_SHARE`` of the rows), over the last ``days`` days, in time order:

- the credits ledger: consumptions of the active feature costs, drawn from the lots that
  expire first; plan renewals (a lot expiring at the period end, with its paid invoice);
  credit-pack purchases when a balance runs short (an order with its item, then an invoice and
  a bank transfer, or a Stripe payment and its webhook events); lots that expire; refunds of a
  recent consumption (to the lots it was drawn from, or a new REFUND lot when they lapsed);
  staff adjustments. Every ledger row has its lot movements, ``balance_after`` runs on from
  the customer's balance before the run, lots are written with what they hold and updated as
  they are drawn from, and at the end the balances are set, so balance = sum(ledger) =
  sum(live lots) holds (``credits.invariant.check_invariant``).
- the audit rows those actions write, and the customers' sign-ins;
- support tickets with their threads, and help-bot conversations.

The new rows come after the customers' existing rows (higher ids), so the ledger's order (by
id) stays consistent; their dates spread over the window and may interleave with the dates of
rows written earlier. Encrypted columns (an order's billing address) are left empty.

The customers are split into ``LANES`` groups of about equal weight, each written through a
connection and a transaction of its own that first locks its customers' balance rows (in id
order, like every credits movement), so no consumption slips in between; PostgreSQL works on
each group on a core of its own. The transactions commit one after the other at the end;
anything that fails before rolls all of them back. Rows are simulated in rounds of ``CHUNK``
ledger rows; a thread per lane writes each round (constraints checked as it is written) while
the next one is simulated.

Not idempotent: every run adds another history on top of the last one.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from analytics.seed_history.history import CHUNK, History
from analytics.seed_history.inputs import (
    HEAVY_SHARE,
    credit_packs,
    lanes,
    lock_customers,
    lock_live_lots,
    pick_customers,
    plans_of,
    shares,
    staff_members,
)
from analytics.seed_history.rows import SeedError, Writer, check_columns
from credits.models import FeatureCost

__all__ = [
    "CHUNK",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_DAYS",
    "HEAVY_SHARE",
    "LANES",
    "SEED",
    "SeedError",
    "Stats",
    "analyze",
    "seed_history",
]

DEFAULT_CUSTOMERS = 100
LANES = 2  # connections writing at once (the customers split between them)
DEFAULT_DAYS = 730
SEED = 20261205


@dataclass
class Stats:
    customers: int = 0
    heavy_email: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ledger_rows(self) -> int:
        return self.rows.get("credits_credittransaction", 0)


def seed_history(
    *,
    rows: int,
    customers: int = DEFAULT_CUSTOMERS,
    days: int = DEFAULT_DAYS,
    seed: int = SEED,
    end: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    lanes_wanted: int | None = None,
) -> Stats:
    """Write ``rows`` ledger rows (and the rest of the history around them) for the first
    ``customers`` customers by id, dated over the ``days`` days before ``end`` (now).
    ``progress`` is called with the number of ledger rows each round wrote. Raises SeedError
    when the database lacks customers, feature costs or credit packs (nothing written).

    Locks the customers' balance rows, then their live lots, for the whole run. Outside a
    transaction and from ``CHUNK`` rows up, the customers are split into ``LANES`` groups
    (or ``lanes_wanted``), each written through a connection and a transaction of its own;
    inside a transaction (a test) everything goes through that one transaction."""
    if rows < 1 or customers < 1 or days < 1:
        raise SeedError("rows, customers and days must be at least 1.")
    started = timezone.now()
    end = end or started
    rng = random.Random(seed)
    operations = _operations()
    packs, staff = credit_packs(), staff_members()
    users = pick_customers(customers)
    weights = shares(len(users), rng)
    if connection.in_atomic_block:
        lanes_wanted = 1  # the other connections could not see this transaction's rows
    elif lanes_wanted is None:
        lanes_wanted = LANES if rows >= CHUNK else 1
    run = _Run(
        rows=rows,
        users=users,
        weights=weights,
        operations=operations,
        packs=packs,
        staff=staff,
        start=end - timedelta(days=days),
        end=end,
        rng=rng,
        progress=progress or (lambda n: None),
    )
    histories = _write(run, lanes(weights, lanes_wanted))
    counts: dict[str, int] = {}
    for history in histories:
        for table, count in history.counts.items():
            counts[table] = counts.get(table, 0) + count
    return Stats(
        customers=len(users),
        heavy_email=users[0][1],
        rows={table: n for table, n in counts.items() if n},
        seconds=(timezone.now() - started).total_seconds(),
    )


def _operations() -> list[tuple[str, int]]:
    """The active feature costs, (operation, cost) by operation; SeedError without any."""
    operations = list(
        FeatureCost.objects.filter(active=True)
        .order_by("operation")
        .values_list("operation", "cost")
    )
    if not operations:
        raise SeedError(
            "No active feature costs: run `manage.py seed_demo` (or seed_credits) first."
        )
    return operations


def _write(run: "_Run", groups: list) -> list[History]:
    """Simulate and write every lane's history in one transaction per lane (all rolled back
    if one fails); the lanes' histories, for their counts."""
    histories: list[History] = []
    extra: list[BaseDatabaseWrapper] = []  # the other lanes' connections
    with transaction.atomic():
        try:
            _open_lanes(run, groups, histories, extra)
            _simulate(histories, extra)
        except BaseException:
            for history in histories:
                history.writer.abandon()
            for db in extra:
                db.rollback()
            raise
        finally:
            for db in extra:
                db.close()
        # Back to Django's default (its foreign keys are INITIALLY DEFERRED) for the rest of
        # a surrounding transaction, when there is one (a test).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return histories


@dataclass
class _Run:
    """What every lane of one seed_history run shares."""

    rows: int
    users: list
    weights: list
    operations: list
    packs: list
    staff: list
    start: datetime
    end: datetime
    rng: random.Random
    progress: Callable[[int], None]


def _open_lanes(run: _Run, groups: list, histories: list, extra: list) -> None:
    """One History per group of customers, each on its own connection (the first on Django's),
    with its customers' balance rows and live lots locked and its share of the rows."""
    left = run.rows
    for number, group in enumerate(groups):
        db = connection if number == 0 else _lane_connection(extra)
        cursor = db.cursor()
        # Each round is whole, so its constraints are checked as it is written,
        # while the next round is simulated, rather than all at the commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if number == 0:
            check_columns(cursor)
        picked = lock_customers(cursor, [run.users[i] for i in group])
        lock_live_lots(cursor, picked)
        plans_of(picked, run.start, run.rng)
        share = sum(run.weights[i] for i in group) / sum(run.weights)
        lane_rows = left if number == len(groups) - 1 else round(run.rows * share)
        left -= lane_rows
        histories.append(
            History(
                cursor=cursor,
                writer=Writer(db.connection, run.progress),
                rows=lane_rows,
                customers=picked,
                weights=[run.weights[i] for i in group],
                operations=run.operations,
                packs=run.packs,
                staff=run.staff,
                start=run.start,
                end=run.end,
                rng=random.Random(run.rng.random()),
            )
        )


def _simulate(histories: list, extra: list) -> None:
    """Step the lanes in turn until each has its rows, then settle the balances and commit
    the other lanes' transactions (the first lane's commits with the caller's)."""
    running = list(histories)
    while running:
        running = [history for history in running if history.step()]
    for history in histories:
        history.finish()
    for db in extra:
        db.commit()


def _lane_connection(opened: list):
    """Another connection to the default database, in a transaction of its own."""
    db = connections.create_connection(DEFAULT_DB_ALIAS)
    opened.append(db)
    db.set_autocommit(False)
    return db


def analyze(stats: Stats) -> None:
    """Fresh planner statistics for the tables written, so the admin's estimated counts and
    plans see the new rows at once rather than after autovacuum's next pass. A role that may
    not analyze a table gets PostgreSQL's warning and the table is skipped."""
    with connection.cursor() as cursor:
        for table in stats.rows:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
