"""The credits invariant: balance = ledger = live lots, for every user and every lot.

Checked nightly (``credits.tasks.check_invariant``), after every test, and against a restored
backup before it is trusted.
"""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

from credits.models import InvariantCheck


@dataclass(frozen=True)
class Violation:
    user_id: int | None
    grant_id: int | None
    problem: str
    values: dict


_USER_INVARIANT_SQL = """
WITH ledger AS (
    SELECT user_id, SUM(amount) AS total FROM credits_credittransaction GROUP BY user_id
), last_row AS (
    SELECT DISTINCT ON (user_id) user_id, balance_after FROM credits_credittransaction
    ORDER BY user_id, id DESC
), lots AS (
    SELECT user_id, SUM(remaining) AS total FROM credits_creditgrant
    WHERE expired_at IS NULL GROUP BY user_id
), users AS (
    SELECT user_id FROM credits_creditbalance UNION SELECT user_id FROM ledger
    UNION SELECT user_id FROM lots
)
SELECT u.user_id, COALESCE(b.balance, 0), COALESCE(l.total, 0), COALESCE(g.total, 0),
       COALESCE(r.balance_after, 0)
FROM users u
LEFT JOIN credits_creditbalance b ON b.user_id = u.user_id
LEFT JOIN ledger l ON l.user_id = u.user_id
LEFT JOIN lots g ON g.user_id = u.user_id
LEFT JOIN last_row r ON r.user_id = u.user_id
WHERE (%(user_id)s::bigint IS NULL OR u.user_id = %(user_id)s::bigint)
  AND NOT (COALESCE(b.balance, 0) = COALESCE(l.total, 0)
           AND COALESCE(l.total, 0) = COALESCE(g.total, 0)
           AND COALESCE(r.balance_after, 0) = COALESCE(b.balance, 0))
ORDER BY u.user_id
"""

_LOT_INVARIANT_SQL = """
SELECT g.id, g.user_id, g.remaining, COALESCE(SUM(m.amount), 0)
FROM credits_creditgrant g
LEFT JOIN credits_transactionlot m ON m.grant_id = g.id
WHERE (%(user_id)s::bigint IS NULL OR g.user_id = %(user_id)s::bigint)
GROUP BY g.id
HAVING g.remaining <> COALESCE(SUM(m.amount), 0)
ORDER BY g.id
"""


def check_invariant(*, user=None, using: str = DEFAULT_DB_ALIAS) -> list[Violation]:
    """Every way the books disagree, for one user or all; an empty list means they agree.

    Per user: balance = sum of the ledger = sum of unexpired lots' remaining = the last ledger
    row's balance_after. Per lot: remaining = the sum of its lot movements. Two grouped
    queries, whatever the number of users. Takes no locks: run it when nothing is moving, or
    read a violation as "check again" (a snapshot per statement under READ COMMITTED).
    ``using``: another database alias (a restored backup being verified).
    """
    params = {"user_id": getattr(user, "pk", None)}
    violations = []
    with connections[using].cursor() as cursor:
        cursor.execute(_USER_INVARIANT_SQL, params)
        for user_id, balance, ledger, lots, last in cursor.fetchall():
            violations.append(
                Violation(
                    user_id,
                    None,
                    "balance_mismatch",
                    {
                        "balance": balance,
                        "ledger": ledger,
                        "lots": lots,
                        "last_balance_after": last,
                    },
                )
            )
        cursor.execute(_LOT_INVARIANT_SQL, params)
        for grant_id, user_id, remaining, moved in cursor.fetchall():
            violations.append(
                Violation(
                    user_id, grant_id, "lot_mismatch", {"remaining": remaining, "movements": moved}
                )
            )
    return violations


INVARIANT_SAMPLE = 20  # violations kept with a check's record


def record_invariant_check() -> tuple[InvariantCheck, list[Violation]]:
    """Run ``check_invariant`` for every user and insert its outcome (an ``InvariantCheck``
    with the count and the first violations), for the monitoring to read. Takes no locks;
    safe to run twice (each run is one more record)."""
    violations = check_invariant()
    sample = [
        {"user_id": v.user_id, "grant_id": v.grant_id, "problem": v.problem, "values": v.values}
        for v in violations[:INVARIANT_SAMPLE]
    ]
    check = InvariantCheck.objects.create(violations=len(violations), sample=sample)
    return check, violations
