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
  sum(live lots) holds (``credits.services.check_invariant``).
- the audit rows those actions write, and the customers' sign-ins;
- support tickets with their threads, and help-bot conversations.

The new rows come after the customers' existing rows (higher ids), so the ledger's order (by
id) stays consistent; their dates spread over the window and may interleave with the dates of
rows written earlier. Encrypted columns (an order's billing address) are left empty. The run
is one transaction that first locks the customers' balance rows (in id order, like every
credits movement): all of it or nothing, and no consumption slips in between. Rows are
simulated in rounds of ``CHUNK`` ledger rows; a thread writes each round (constraints checked
as it is written) while the next one is simulated.

Not idempotent: every run adds another history on top of the last one.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.seed_history.history import CHUNK, History
from analytics.seed_history.inputs import (
    HEAVY_SHARE,
    credit_packs,
    customers_for,
    lock_live_lots,
    plans_of,
    shares,
    staff_members,
)
from analytics.seed_history.rows import SeedError, Writer, check_columns
from credits.models import FeatureCost

__all__ = ["CHUNK", "DEFAULT_CUSTOMERS", "DEFAULT_DAYS", "HEAVY_SHARE", "SEED", "SeedError",
           "Stats", "analyze", "seed_history"]

DEFAULT_CUSTOMERS = 100
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


def seed_history(*, rows: int, customers: int = DEFAULT_CUSTOMERS, days: int = DEFAULT_DAYS,
                 seed: int = SEED, end: datetime | None = None,
                 progress: Callable[[int], None] | None = None) -> Stats:
    """Write ``rows`` ledger rows (and the rest of the history around them) for the first
    ``customers`` customers by id, dated over the ``days`` days before ``end`` (now).
    ``progress`` is called with the number of ledger rows each round wrote. Raises SeedError
    when the database lacks customers, feature costs or credit packs (nothing written)."""
    if rows < 1 or customers < 1 or days < 1:
        raise SeedError("rows, customers and days must be at least 1.")
    started = timezone.now()
    end = end or started
    rng = random.Random(seed)
    operations = list(FeatureCost.objects.filter(active=True).order_by("operation")
                      .values_list("operation", "cost"))
    if not operations:
        raise SeedError("No active feature costs: run `manage.py seed_demo` (or seed_credits) "
                        "first.")
    packs, staff = credit_packs(), staff_members()
    start = end - timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        # Each round is whole, so its constraints are checked as it is written, while the
        # next round is simulated, rather than all at the commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        check_columns(cursor)
        picked = customers_for(cursor, customers)
        lock_live_lots(cursor, picked)
        plans_of(picked, start, rng)
        writer = Writer(connection.connection, progress or (lambda n: None))
        try:
            history = History(cursor=cursor, writer=writer, rows=rows, customers=picked,
                              weights=shares(len(picked), rng), operations=operations,
                              packs=packs, staff=staff, start=start, end=end, rng=rng)
            history.run()
        except BaseException:
            writer.abandon()
            raise
        history.finish()
        # Back to Django's default (its foreign keys are INITIALLY DEFERRED) for the rest of
        # a surrounding transaction, when there is one (a test).
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return Stats(customers=len(picked), heavy_email=picked[0].email,
                 rows={table: n for table, n in history.counts.items() if n},
                 seconds=(timezone.now() - started).total_seconds())


def analyze(stats: Stats) -> None:
    """Fresh planner statistics for the tables written, so the admin's estimated counts and
    plans see the new rows at once rather than after autovacuum's next pass. A role that may
    not analyze a table gets PostgreSQL's warning and the table is skipped."""
    with connection.cursor() as cursor:
        for table in stats.rows:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
