"""The building blocks every movement of credits is made of (credits.services). Callers hold
a transaction and follow the locking protocol described there: the user's CreditBalance row
first (``lock_balance``), then the lots they touch."""

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from core import outbox
from core.system_config import get_config
from credits.errors import InvalidCreditAmount
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    TransactionKind,
    TransactionLot,
)

MAX_KEY_LENGTH = 200


def lock_balance(user_id: int) -> CreditBalance:
    """Lock the user's balance row, creating it on first use (two first uses may race: the
    ON CONFLICT DO NOTHING insert waits for the other and then finds its row)."""
    row = CreditBalance.objects.select_for_update().filter(user_id=user_id).first()
    if row is None:
        CreditBalance.objects.bulk_create([CreditBalance(user_id=user_id)], ignore_conflicts=True)
        row = CreditBalance.objects.select_for_update().get(user_id=user_id)
    return row


def change_balance(balance: CreditBalance, delta: int) -> int:
    """Add ``delta`` to the locked balance row; keep the low-balance flag; return the new value.

    The e-mail is queued after commit and only when this change takes the balance below the
    threshold while the flag is clear: one e-mail per crossing.
    """
    new_value = balance.balance + delta
    threshold = get_config("low_balance_threshold")
    flag = balance.low_balance_notified
    notify = delta < 0 and new_value < threshold and not flag
    if notify:
        flag = True
    elif new_value >= threshold:
        flag = False
    CreditBalance.objects.filter(pk=balance.pk).update(
        balance=F("balance") + delta, low_balance_notified=flag, updated_at=timezone.now()
    )
    balance.balance, balance.low_balance_notified = new_value, flag
    if notify:
        outbox.enqueue("credits.tasks.send_low_balance_email", balance.user_id)
    return new_value


def write_ledger(
    *, balance: CreditBalance, kind: str, movements: list[tuple[int, int]], **fields: object
) -> CreditTransaction:
    """Apply ``movements`` [(grant_id, signed amount)] to the balance and write the ledger row
    and its lot rows. Lots' ``remaining`` must already be changed by the caller."""
    amount = sum(part for _, part in movements)
    new_value = change_balance(balance, amount)
    row = CreditTransaction.objects.create(
        user_id=balance.user_id, kind=kind, amount=amount, balance_after=new_value, **fields
    )
    TransactionLot.objects.bulk_create(
        [
            TransactionLot(transaction=row, grant_id=grant_id, amount=part)
            for grant_id, part in movements
        ]
    )
    return row


def new_lot(
    *,
    user_id: int,
    amount: int,
    source: str,
    expires_at: datetime | None = None,
    source_ref: str = "",
    idempotency_key: str = "",
) -> CreditGrant:
    return CreditGrant.objects.create(
        user_id=user_id,
        source=source,
        amount=amount,
        remaining=amount,
        expires_at=expires_at,
        source_ref=source_ref,
        idempotency_key=idempotency_key,
    )


def expire_locked_lots(balance: CreditBalance, lots: list[CreditGrant], now: datetime) -> int:
    """Expire lots already locked by the caller: one EXPIRE row per lot with credits left."""
    expired = 0
    for lot in lots:
        assert lot.expires_at is not None  # both callers pass only lots past their expiry
        CreditGrant.objects.filter(pk=lot.pk).update(remaining=0, expired_at=now, updated_at=now)
        if lot.remaining:
            write_ledger(
                balance=balance,
                kind=TransactionKind.EXPIRE,
                movements=[(lot.pk, -lot.remaining)],
                idempotency_key=f"expire:lot:{lot.pk}",
                created_at=now,
                details={
                    "grant_id": lot.pk,
                    "source": lot.source,
                    "expires_at": lot.expires_at.isoformat(),
                },
            )
            expired += 1
        lot.remaining, lot.expired_at = 0, now
    return expired


def lock_live_lots(balance: CreditBalance, now: datetime) -> list[CreditGrant]:
    """Lock the user's unexpired lots in drawing order (expiry first, nulls last, then id).
    Lots past their date are expired on the spot, so nothing is drawn from them."""
    lots = list(
        CreditGrant.objects.select_for_update()
        .filter(user_id=balance.user_id, expired_at__isnull=True, has_credits=True)
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    overdue = [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= now]
    if overdue:
        expire_locked_lots(balance, overdue, now)
    return [lot for lot in lots if lot.expired_at is None]


def draw(lots: list[CreditGrant], amount: int, now: datetime) -> list[tuple[int, int]]:
    """Take ``amount`` from the locked lots in order; returns the negative movements."""
    movements, left = [], amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        CreditGrant.objects.filter(pk=lot.pk).update(
            remaining=F("remaining") - take, updated_at=now
        )
        lot.remaining -= take
        movements.append((lot.pk, -take))
        left -= take
    if left:
        # Unreachable while the invariant holds; refuse rather than let the ledger diverge.
        raise RuntimeError(
            f"credits: balance {amount} not backed by live lots "
            f"for user {lots[0].user_id if lots else '?'}"
        )
    return movements


def check_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidCreditAmount(
            f"Idempotency keys are at most {MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
        )
    return key


def check_positive_int(value: object, *, name: str, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCreditAmount(f"{name} must be a whole number of at least 1.")
    if maximum is not None and value > maximum:
        raise InvalidCreditAmount(f"{name} must be at most {maximum}.")
    return value


def first_with_key(*, user_id: int, key: str) -> CreditTransaction | None:
    return CreditTransaction.objects.filter(user_id=user_id, idempotency_key=key).first()
