"""What keeping MRR as state costs a subscription write: measured beside the rollup
(``bench.rollup``), which prints it as a row without a target."""

from django.db import connection, transaction

from bench.common import alternating_medians


def _subscription_writes(ids: list[int], triggers: bool) -> None:
    """Committed UPDATEs of each subscription (a seat change, a column MRR reads, then its
    undoing, so the data ends as it began and the spans stay true when the triggers are off),
    with the database's triggers on, or off for this session (``session_replication_role``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET session_replication_role = {'origin' if triggers else 'replica'}")
        try:
            for sub_id in ids + ids:
                with transaction.atomic():
                    cursor.execute(
                        "UPDATE billing_subscription SET quantity = 3 - quantity WHERE id = %s",
                        [sub_id],
                    )
        finally:
            cursor.execute("SET session_replication_role = origin")


def measure_write(args, label: str) -> tuple[float, float] | None:
    """What keeping MRR as state costs a write: a subscription's seat change with the
    triggers that recompute its customer's MRR spans, against the same write without them.
    Seconds per write; None where the role may not turn triggers off (not a superuser)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            print(f"[{label}] subscription write: skipped (needs a superuser to turn triggers off)")
            return None
        cursor.execute(
            "SELECT id FROM billing_subscription WHERE status = 'ACTIVE' ORDER BY id LIMIT 50"
        )
        ids = [row[0] for row in cursor.fetchall()]
    kept, plain = alternating_medians(
        [lambda: _subscription_writes(ids, True), lambda: _subscription_writes(ids, False)],
        args.repeat,
    )
    kept, plain = kept / (2 * len(ids)), plain / (2 * len(ids))
    print(
        f"[{label}] subscription write with MRR kept: {kept * 1000:6.2f} ms   "
        f"without the triggers: {plain * 1000:6.2f} ms   ratio {kept / plain:5.2f}x"
    )
    return kept, plain
