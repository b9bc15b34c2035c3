"""The history ``bench.history`` adds to its copy of the demo data, and the checks and upkeep
around it: ``manage.py seed_history`` when the project has it, else a generator of its own
(``--rows`` ledger rows for the heavy customer, one a minute back from their first demo row,
and ``--customers`` new customers with ``--rows-per-customer`` rows each, written with COPY:
grants of 9 followed by nine consumptions of 1, one emptied lot per grant, so the books still
agree); the credits invariant and the daily sums checked against the ledger; VACUUM (ANALYZE).

Django is set up when the bench runs (``bench.common.setup_django``), so its imports are in the
functions.
"""

import io
import time
from datetime import timedelta

LEDGER_COLUMNS = (
    "user_id",
    "kind",
    "operation",
    "quantity",
    "amount",
    "balance_after",
    "details",
    "idempotency_key",
    "created_at",
)
OPERATIONS = ("AI_TEXT_CHAT", "AI_IMAGE_GENERATION", "SHORTS_SCRIPT")


def _groups_of_ten(user_id: int, count: int, newest, step: timedelta):
    """``count`` ledger rows (a multiple of ten) ending one ``step`` before ``newest``, oldest
    first: per ten, a GRANT of 9 then nine CONSUMEs of 1, so each ten sums to zero."""
    first = newest - step * count
    for n in range(count):
        position = n % 10
        grant = position == 0
        yield (
            user_id,
            "GRANT" if grant else "CONSUME",
            "" if grant else OPERATIONS[n % len(OPERATIONS)],
            1,
            9 if grant else -1,
            9 if grant else 9 - position,
            "{}",
            "",
            first + step * n,
        )


def copy_history(*, heavy, rows: int, customers: int, rows_per_customer: int) -> None:
    """The bench's own generator (when the project has no ``seed_history``): COPY the rows."""
    from django.db import connection, transaction  # noqa: PLC0415 - Django is set up when the bench runs
    from django.utils import timezone  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.models import Role, User  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.models import CreditTransaction, GrantSource  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.services import grant_credits  # noqa: PLC0415 - Django is set up when the bench runs

    rows -= rows % 10
    rows_per_customer -= rows_per_customer % 10
    oldest = (
        CreditTransaction.objects.filter(user=heavy)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    ) or timezone.now()
    others = User.objects.bulk_create(
        User(email=f"history{n}@bench.test", password="!", role=Role.CUSTOMER)  # noqa: S106
        for n in range(customers)
    )
    now = timezone.now()

    def ledger():
        yield from _groups_of_ten(heavy.pk, rows, oldest, timedelta(minutes=1))
        for user in others:
            yield from _groups_of_ten(user.pk, rows_per_customer, now, timedelta(hours=6))

    lots = [(heavy.pk, rows // 10)] + [(user.pk, rows_per_customer // 10) for user in others]
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(
            f"COPY credits_credittransaction ({', '.join(LEDGER_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in ledger():
                copy.write_row(row)
        with raw.copy(
            "COPY credits_creditgrant (user_id, source, amount, remaining, "
            "source_ref, idempotency_key, created_at, updated_at) FROM STDIN"
        ) as copy:
            for user_id, count in lots:
                for _ in range(count):
                    copy.write_row((user_id, GrantSource.PLAN, 9, 0, "history", "", now, now))
    # The heavy customer's newest row is a real movement again (the invariant reads the
    # balance from each user's last row).
    grant_credits(user=heavy, amount=1, source=GrantSource.PROMO, idempotency_key="bench:history")
    total = rows + customers * rows_per_customer
    print(
        f"  COPY of {total:,} ledger rows ({rows:,} for {heavy.email}, {customers:,} "
        f"customers x "
        f"{rows_per_customer:,}) in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )


def seed_history(args, heavy) -> None:
    from django.core.management import call_command, get_commands  # noqa: PLC0415 - Django is set up when the bench runs

    from credits.models import CreditTransaction  # noqa: PLC0415 - Django is set up when the bench runs

    t0 = time.perf_counter()
    use_command = args.generator == "seed_history" or (
        args.generator == "auto" and "seed_history" in get_commands()
    )
    if use_command:
        options = {"customers": args.customers} if args.customers else {}
        out = io.StringIO()
        call_command("seed_history", rows=args.rows, no_progress=True, stdout=out, **options)
        print("  " + out.getvalue().strip(), flush=True)
        how = "manage.py seed_history"
    else:
        copy_history(
            heavy=heavy,
            rows=args.rows,
            customers=args.customers or 1_000,
            rows_per_customer=args.rows_per_customer,
        )
        how = "bench.history_rows's COPY generator"
    mine = CreditTransaction.objects.filter(user=heavy).count()
    print(
        f"  history by {how} in {time.perf_counter() - t0:.0f}s; {heavy.email} now has "
        f"{mine:,} ledger rows",
        flush=True,
    )


def settle() -> None:
    """VACUUM (ANALYZE) everything: fresh statistics, and nothing left for autovacuum, which
    would otherwise work through the freshly written tables on the same cores while the pages
    are timed (a steady state, as a database that has grown over years is in)."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM (ANALYZE) in {time.perf_counter() - t0:.0f}s", flush=True)


def check_books() -> None:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    from credits.invariant import check_invariant  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.selectors import ledger_day_differences  # noqa: PLC0415 - Django is set up when the bench runs

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM credits_credittransaction")
        (ledger_rows,) = cursor.fetchone()
    violations, differences = check_invariant(), ledger_day_differences()
    print(
        f"  checks in {time.perf_counter() - t0:.0f}s: {ledger_rows:,} ledger "
        f"rows; invariant violations: {len(violations)}; daily sums differing from the "
        f"ledger: {len(differences)}",
        flush=True,
    )
    if violations or differences:
        raise SystemExit(f"history: the books disagree: {violations[:3]} {differences[:3]}")
