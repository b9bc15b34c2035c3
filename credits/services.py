"""Every movement of credits. One service per movement, one transaction each.

Locking protocol (READ COMMITTED): every service that changes a user's credits first locks
that user's CreditBalance row (``SELECT ... FOR UPDATE``), then the lots it touches. The
balance lock serialises all writers of one user, so lot locks never wait on each other and
no two services can deadlock; different users never contend. Counters are changed with
``UPDATE ... SET x = x + %s`` while the lock is held, and CHECK constraints (balance >= 0,
0 <= remaining <= amount) are the last line of defence.

Consuming, the hot path, is one statement: the PL/pgSQL function ``credits_consume_v2``
(migration 0008; v1 in 0005 used the database's clock) follows the same protocol inside the
database, so a consume costs one round trip; the other movements run in Python: granting and
expiry here, taking back, refunding and staff corrections in ``credits.corrections`` (each
importable from here too).
"""

import json
import logging
import time
from datetime import datetime
from typing import Any, TypedDict

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core import audit
from core.models import AuditAction
from core.outbox.services import publish as publish_outbox
from core.prepared import loaded_instance, prepared_cursor
from core.system_config import get_config
from credits import plans

# Taking back, refunding and adjusting live in credits.corrections; callers find every movement
# of credits here.
from credits.corrections import (  # noqa: F401 - re-exported: the public movements of credits
    REFUND_GRACE,
    adjust_credits,
    claw_back_grant,
    refund_consumption,
)
from credits.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidCreditAmount,
    UnknownOperation,
)
from credits.ledger import (
    check_key,
    check_positive_int,
    expire_locked_lots,
    first_with_key,
    lock_balance,
    new_lot,
    write_ledger,
)
from credits.models import (
    CreditGrant,
    CreditTransaction,
    FeatureCost,
    GrantSource,
    TransactionKind,
)

logger = logging.getLogger(__name__)

SIGNUP_BONUS_KEY = "signup-bonus"
MAX_QUANTITY = 10_000


# --- consuming -------------------------------------------------------------------------------

# The PL/pgSQL function that does the whole movement (migration credits 0008). A new version
# is a new function in a new migration; both names here change with it. The last argument is
# the application's clock, which every other ledger writer uses too.
CONSUME_FUNCTION = "credits_consume_v2"
CONSUME_SQL = "SELECT * FROM credits_consume_v2(%s, %s, %s, %s, %s::jsonb, %s)"
# The ledger columns the function returns, in its order (after ``outcome``).
_CONSUME_ROW = (
    "id",
    "kind",
    "operation",
    "quantity",
    "amount",
    "balance_after",
    "details",
    "idempotency_key",
    "created_at",
)


def _replay_consume(
    *, user: User, key: str, operation: str, quantity: int
) -> CreditTransaction | None:
    first = first_with_key(user_id=user.pk, key=key)
    if first is None:
        return None
    if (
        first.kind != TransactionKind.CONSUME
        or first.operation != operation
        or first.quantity != quantity
    ):
        raise _conflict(operation=first.operation, quantity=first.quantity)
    return first


def _conflict(*, operation: str, quantity: int | None) -> IdempotencyConflict:
    return IdempotencyConflict(
        "This idempotency key was already used for a different request.",
        operation=operation,
        quantity=quantity,
    )


def consume_credits(
    *,
    user: User,
    operation: str,
    quantity: int = 1,
    idempotency_key: str | None = None,
    details: dict | None = None,
) -> CreditTransaction:
    """Charge ``quantity`` units of ``operation`` at this user's cost; return the CONSUME row.

    One statement, one round trip: the database function ``credits_consume_v2`` (migration
    0008) locks the user's CreditBalance row, then, one at a time in drawing order, only the
    lots it expires or draws from; lots past their date are expired first. Draws from the lots
    that expire first and writes one ledger row. The cost is the operation's, or the override
    of the user's current plan. Raises UnknownOperation (missing or inactive operation),
    InvalidCreditAmount (quantity not an int in 1..10000), InsufficientCredits (with
    ``balance`` and ``cost``; writes nothing), IdempotencyConflict (the key was used for
    another operation or quantity). Safe to call twice with the same ``idempotency_key``: the
    second call returns the first row, including when both arrive at once (the balance lock
    serialises them and the function looks for the key under it). Outside a transaction the
    statement is its own; inside one it runs in a savepoint, so an error leaves the caller's
    transaction usable.
    """
    check_positive_int(quantity, name="quantity", maximum=MAX_QUANTITY)
    key = check_key(idempotency_key)
    _check_entitlement(user=user, operation=operation)
    encoded = json.dumps(details) if details else "{}"
    params = [user.pk, operation, quantity, key, encoded, timezone.now()]
    try:
        result = _call_consume(params)
    except IntegrityError:
        # Unreachable while every writer locks the balance row first; kept as a safety net.
        first = key and _replay_consume(user=user, key=key, operation=operation, quantity=quantity)
        if not first:
            raise
        return first
    return _consume_outcome(result, user_id=user.pk, operation=operation)


# Which operations need a plan entitlement, read at most every CREDITS_ENTITLEMENTS_CACHE_SECONDS
# (default 5; the tests' settings 0) per process rather than on every consume (a consume is one
# round trip). A change made in this process applies at once (the FeatureCost signals in
# credits.apps); other processes see it within those seconds.
class _EntitlementCache(TypedDict):
    read_at: float | None  # time.monotonic() of the last read, None to read again
    by_operation: dict[str, str]


_required_entitlements: _EntitlementCache = {"read_at": None, "by_operation": {}}


def required_entitlements() -> dict[str, str]:
    """``{operation: entitlement}`` for active operations that need one."""
    read_at = _required_entitlements["read_at"]
    ttl = getattr(settings, "CREDITS_ENTITLEMENTS_CACHE_SECONDS", 5)
    if read_at is None or time.monotonic() - read_at >= ttl:
        _required_entitlements["by_operation"] = dict(
            FeatureCost.objects.filter(active=True)
            .exclude(required_entitlement="")
            .values_list("operation", "required_entitlement")
        )
        _required_entitlements["read_at"] = time.monotonic()
    return _required_entitlements["by_operation"]


def forget_required_entitlements(**kwargs: Any) -> None:
    """``post_save``/``post_delete`` of a FeatureCost: read the requirements again."""
    _required_entitlements["read_at"] = None


def _check_entitlement(*, user: User, operation: str) -> None:
    """An operation that needs a plan entitlement is refused (EntitlementRequired, 403, naming
    the plans that include it) before anything is charged."""
    needed = required_entitlements().get(operation)
    if needed:
        plans.require_entitlement(user, needed)


def _call_consume(params: list[Any]) -> tuple[Any, ...]:
    # The database function returns exactly one row.
    row: tuple[Any, ...]
    if connection.in_atomic_block:
        with transaction.atomic(), prepared_cursor() as cursor:
            cursor.execute(CONSUME_SQL, params)
            row = cursor.fetchone()
            return row
    with prepared_cursor() as cursor:
        cursor.execute(CONSUME_SQL, params)
        row = cursor.fetchone()
        return row


def _consume_outcome(result: tuple, *, user_id: int, operation: str) -> CreditTransaction:
    """The function's row as the service's answer: the ledger row, or the refusal raised."""
    outcome, *row = result[: len(_CONSUME_ROW) + 1]
    balance, cost, outbox_id, plan_id, ignored = result[len(_CONSUME_ROW) + 1 :]
    if ignored is not None:
        logger.warning(
            "Plan %s: ignoring cost override %r=%s (must be an integer >= 1)",
            plan_id,
            operation,
            ignored,
        )
    if outcome == "unknown_operation":
        raise UnknownOperation(f"Unknown or inactive operation {operation!r}.")
    if outcome == "insufficient":
        cost = int(cost)
        raise InsufficientCredits(
            f"This needs {cost} credits; the balance is {balance}.", balance=balance, cost=cost
        )
    fields = dict(zip(_CONSUME_ROW, row, strict=True))
    if outcome == "conflict":
        raise _conflict(operation=fields["operation"], quantity=fields["quantity"])
    if outbox_id is not None:
        # The function wrote the outbox row in its transaction; publish it after the commit,
        # as outbox.enqueue does.
        transaction.on_commit(lambda: publish_outbox(outbox_id))
    details = fields["details"]
    if isinstance(details, str):  # Django loads jsonb as text (JSONField decodes it)
        fields["details"] = {} if details == "{}" else json.loads(details)
    fields.update(user_id=user_id, refund_of_id=None, actor_id=None)
    return loaded_instance(CreditTransaction, fields)


# --- granting --------------------------------------------------------------------------------


def _kind_for_source(source: str) -> str:
    return TransactionKind.ADJUST if source == GrantSource.ADJUSTMENT else TransactionKind.GRANT


def grant_credits(
    *,
    user: User,
    amount: int,
    source: str,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    actor: User | None = None,
    details: dict | None = None,
    source_ref: str = "",
) -> CreditTransaction:
    """Add a lot of ``amount`` credits from ``source``; return its GRANT (ADJUST for
    ADJUSTMENT) ledger row.

    Locks the user's CreditBalance row. Raises InvalidCreditAmount (amount not an int >= 1,
    unknown source, expiry in the past) and IdempotencyConflict (the key was used for another
    amount or source). Safe to call twice with the same ``idempotency_key`` (the lot also
    carries the key, for ``claw_back_grant``). Audited as CREDIT_GRANT when ``actor`` is given.
    """
    check_positive_int(amount, name="amount")
    if source not in GrantSource.values:
        raise InvalidCreditAmount(f"Unknown grant source {source!r}.", code="invalid_source")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidCreditAmount("A grant's expiry must be in the future.", code="invalid_expiry")
    key = check_key(idempotency_key)
    try:
        return _grant(
            user=user,
            amount=amount,
            source=source,
            expires_at=expires_at,
            key=key,
            actor=actor,
            details=details or {},
            source_ref=source_ref,
        )
    except IntegrityError:
        first = key and _replay_grant(user=user, key=key, amount=amount, source=source)
        if not first:
            raise
        return first


def _replay_grant(*, user: User, key: str, amount: int, source: str) -> CreditTransaction | None:
    first = first_with_key(user_id=user.pk, key=key)
    if first is None:
        return None
    if (
        first.kind not in (TransactionKind.GRANT, TransactionKind.ADJUST)
        or first.amount != amount
        or first.details.get("source") != source
    ):
        raise IdempotencyConflict("This idempotency key was already used for another grant.")
    return first


@transaction.atomic
def _grant(
    *,
    user: User,
    amount: int,
    source: str,
    expires_at: datetime | None,
    key: str,
    actor: User | None,
    details: dict[str, Any],
    source_ref: str,
) -> CreditTransaction:
    balance = lock_balance(user.pk)
    if key and (first := _replay_grant(user=user, key=key, amount=amount, source=source)):
        return first
    lot = new_lot(
        user_id=user.pk,
        amount=amount,
        source=source,
        expires_at=expires_at,
        source_ref=source_ref,
        idempotency_key=key,
    )
    row = write_ledger(
        balance=balance,
        kind=_kind_for_source(source),
        movements=[(lot.pk, amount)],
        idempotency_key=key,
        actor=actor if getattr(actor, "pk", None) else None,
        details={
            **details,
            "source": source,
            "grant_id": lot.pk,
            "source_ref": source_ref,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    if getattr(actor, "pk", None):
        audit.record(
            actor=actor,
            action=AuditAction.CREDIT_GRANT,
            resource=row,
            new={"amount": amount, "source": source, "balance": row.balance_after},
            user_id=user.pk,
        )
    return row


def grant_signup_bonus(*, user: User) -> CreditTransaction | None:
    """Grant the signup bonus (SystemConfig ``signup_bonus_credits``, default 100) once.

    Locks the user's CreditBalance row. Safe to call twice: the key "signup-bonus" makes the
    second call return the first row. Returns None when the bonus is configured as 0.
    """
    amount = get_config("signup_bonus_credits")
    existing = first_with_key(user_id=user.pk, key=SIGNUP_BONUS_KEY)
    if existing is not None:
        return existing
    if amount <= 0:
        return None
    try:
        return grant_credits(
            user=user,
            amount=amount,
            source=GrantSource.SIGNUP_BONUS,
            idempotency_key=SIGNUP_BONUS_KEY,
        )
    except IdempotencyConflict:
        # The configured amount changed between two concurrent calls: the first one stands.
        return first_with_key(user_id=user.pk, key=SIGNUP_BONUS_KEY)


# --- expiry -------------------------------------------------------------------------------------


def expire_credits(*, now: datetime | None = None) -> int:
    """Expire every lot past its date; return how many EXPIRE rows were written.

    One short transaction per user: lock the CreditBalance row, then the user's overdue lots
    (the same order as consume_credits, so the two can race safely), write one EXPIRE row per
    lot that still had credits. Safe to run twice or concurrently: a lot is re-read under the
    lock and skipped once expired, and each EXPIRE row carries the unique key
    "expire:lot:<id>".
    """
    now = now or timezone.now()
    user_ids = (
        CreditGrant.objects.filter(
            expired_at__isnull=True, expires_at__isnull=False, expires_at__lte=now
        )
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )
    return sum(_expire_for_user(user_id=user_id, now=now) for user_id in list(user_ids))


@transaction.atomic
def _expire_for_user(*, user_id: int, now: datetime) -> int:
    balance = lock_balance(user_id)
    lots = list(
        CreditGrant.objects.select_for_update()
        .filter(
            user_id=user_id, expired_at__isnull=True, expires_at__isnull=False, expires_at__lte=now
        )
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    return expire_locked_lots(balance, lots, now)
