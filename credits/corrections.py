"""Taking credits back, refunding a consumption and staff corrections.

These movements follow the locking protocol of ``credits.services``: the user's CreditBalance
row first, then the lots they touch; each runs in one transaction.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import authority
from accounts.models import User
from core import audit
from core.models import AuditAction
from credits.errors import (
    AdjustmentBelowZero,
    GrantNotFound,
    IdempotencyConflict,
    InvalidCreditAmount,
    NotRefundable,
    StaffOnly,
)
from credits.ledger import (
    check_key,
    check_positive_int,
    draw,
    first_with_key,
    lock_balance,
    lock_live_lots,
    new_lot,
    write_ledger,
)
from credits.models import (
    CREDITS_MAX,
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    GrantSource,
    TransactionKind,
)

# Credits refunded from a lot that has expired since they were drawn go to a new REFUND lot
# that lives this long: the customer gets them back, but cannot keep them forever.
REFUND_GRACE = timedelta(days=7)


def claw_back_grant(
    *,
    user: User,
    grant_idempotency_key: str,
    amount: int | None = None,
    reason: str,
    actor: User | None = None,
    idempotency_key: str,
) -> CreditTransaction | None:
    """Remove credits from the one lot granted with ``grant_idempotency_key`` (order refunds).

    Takes min(``amount`` or the lot's amount, what the lot still has); credits already spent
    stay spent. Writes an ADJUST row with a negative amount and audits it (CREDIT_ADJUST).
    Locks the user's CreditBalance row, then the lot. Raises GrantNotFound and
    InvalidCreditAmount (amount < 1). Returns None when the lot has nothing left (nothing is
    written). Safe to call twice with the same ``idempotency_key``.
    """
    authority.require(actor, "credits.claw_back")
    if amount is not None:
        check_positive_int(amount, name="amount")
    key = check_key(idempotency_key)
    if not key:
        raise InvalidCreditAmount(
            "A claw-back needs an idempotency key.", code="invalid_idempotency_key"
        )
    with transaction.atomic():
        balance = lock_balance(user.pk)
        first = first_with_key(user_id=user.pk, key=key)
        if first is not None:
            return first
        lot = (
            CreditGrant.objects.select_for_update()
            .filter(user_id=user.pk, idempotency_key=grant_idempotency_key)
            .first()
        )
        if lot is None:
            raise GrantNotFound(f"No credit grant with key {grant_idempotency_key!r}.")
        take = min(amount or lot.amount, lot.remaining)
        if take <= 0:
            return None
        return _take_from_lot(
            balance=balance,
            lot=lot,
            take=take,
            requested=amount,
            grant_idempotency_key=grant_idempotency_key,
            key=key,
            reason=reason,
            actor=actor,
        )


def _take_from_lot(
    *,
    balance: CreditBalance,
    lot: CreditGrant,
    take: int,
    requested: int | None,
    grant_idempotency_key: str,
    key: str,
    reason: str,
    actor: User | None,
) -> CreditTransaction:
    """Under the balance and lot locks: take ``take`` credits out of ``lot``, write the
    negative ADJUST row and audit it."""
    CreditGrant.objects.filter(pk=lot.pk).update(
        remaining=F("remaining") - take, updated_at=timezone.now()
    )
    old = balance.balance
    row = write_ledger(
        balance=balance,
        kind=TransactionKind.ADJUST,
        movements=[(lot.pk, -take)],
        idempotency_key=key,
        actor=actor if getattr(actor, "pk", None) else None,
        details={
            "reason": reason,
            "claw_back_of": grant_idempotency_key,
            "grant_id": lot.pk,
            "requested": requested,
        },
    )
    audit.record(
        actor=actor,
        action=AuditAction.CREDIT_ADJUST,
        resource=row,
        old={"balance": old},
        new={"balance": row.balance_after},
        reason=reason,
        user_id=lot.user_id,
    )
    return row


def refund_consumption(
    *, transaction: CreditTransaction, reason: str, actor: User | None = None
) -> CreditTransaction:
    """Give back the credits of one CONSUME row, to the lots they were drawn from; return the
    REFUND row.

    Credits whose lot has expired since (or is past its date) are not revived into that lot:
    they go into one new REFUND lot that expires after REFUND_GRACE (7 days). Locks the user's
    CreditBalance row, then the lots. Raises NotRefundable for anything but a CONSUME row.
    Safe to call twice: a consumption is refunded exactly once (the REFUND row's ``refund_of``
    is unique), a second call returns the first refund. Audited as REFUND when ``actor`` is
    given.
    """
    consumed = transaction
    if consumed.kind != TransactionKind.CONSUME:
        raise NotRefundable()
    try:
        return _refund(consumed=consumed, reason=reason, actor=actor)
    except IntegrityError:
        first = CreditTransaction.objects.filter(refund_of=consumed).first()
        if first is None:
            raise
        return first


def _refund(*, consumed: CreditTransaction, reason: str, actor: User | None) -> CreditTransaction:
    with transaction.atomic():
        balance = lock_balance(consumed.user_id)
        now = timezone.now()
        first = CreditTransaction.objects.filter(refund_of=consumed).first()
        if first is not None:
            return first
        drawn = {m.grant_id: -m.amount for m in consumed.lots.all()}
        lots = CreditGrant.objects.select_for_update().filter(pk__in=drawn).order_by("id")
        movements, lapsed = [], 0
        for lot in lots:
            if lot.expired_at is None and (lot.expires_at is None or lot.expires_at > now):
                CreditGrant.objects.filter(pk=lot.pk).update(
                    remaining=F("remaining") + drawn[lot.pk], updated_at=now
                )
                movements.append((lot.pk, drawn[lot.pk]))
            else:
                lapsed += drawn[lot.pk]
        if lapsed:
            fresh = new_lot(
                user_id=consumed.user_id,
                amount=lapsed,
                source=GrantSource.REFUND,
                expires_at=now + REFUND_GRACE,
                source_ref=f"refund-of:{consumed.pk}",
            )
            movements.append((fresh.pk, lapsed))
        row = write_ledger(
            balance=balance,
            kind=TransactionKind.REFUND,
            movements=movements,
            operation=consumed.operation,
            quantity=consumed.quantity,
            refund_of=consumed,
            created_at=now,
            actor=actor if getattr(actor, "pk", None) else None,
            details={"reason": reason, "refund_of": consumed.pk},
        )
        if getattr(actor, "pk", None):
            audit.record(
                actor=actor,
                action=AuditAction.REFUND,
                resource=row,
                new={"amount": row.amount, "balance": row.balance_after},
                reason=reason,
                refund_of=consumed.pk,
                user_id=consumed.user_id,
            )
        return row


def adjust_credits(
    *, user: User, amount: int, reason: str, actor: User, idempotency_key: str | None = None
) -> CreditTransaction:
    """A staff correction of ``amount`` credits (positive or negative); return the ADJUST row.

    Positive: a new ADJUSTMENT lot without expiry. Negative: drawn from the live lots like a
    consumption, never below zero. Locks the user's CreditBalance row, then their lots. Raises
    StaffOnly (actor is not staff), InvalidCreditAmount (zero, not an int, no reason) and
    AdjustmentBelowZero. Audited as CREDIT_ADJUST in the same transaction. Not idempotent
    unless ``idempotency_key`` is given (then safe to call twice).
    """
    if not getattr(actor, "is_staff", False):
        raise StaffOnly()
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidCreditAmount("amount must be a non-zero whole number.")
    # A removal counts like a grant against the role's limit.
    authority.require(actor, "credits.adjust", amount=abs(amount))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidCreditAmount("A reason is required.", code="reason_required")
    key = check_key(idempotency_key)
    with transaction.atomic():
        balance = lock_balance(user.pk)
        now = timezone.now()
        if key and (first := first_with_key(user_id=user.pk, key=key)):
            if first.kind != TransactionKind.ADJUST or first.amount != amount:
                raise IdempotencyConflict()
            return first
        old = balance.balance
        movements = _adjustment_movements(
            balance=balance, user=user, amount=amount, actor=actor, now=now
        )
        row = write_ledger(
            balance=balance,
            kind=TransactionKind.ADJUST,
            movements=movements,
            actor=actor,
            idempotency_key=key,
            created_at=now,
            details={"reason": reason, "source": GrantSource.ADJUSTMENT},
        )
        audit.record(
            actor=actor,
            action=AuditAction.CREDIT_ADJUST,
            resource=row,
            old={"balance": old},
            new={"balance": row.balance_after},
            reason=reason,
            amount=amount,
            user_id=user.pk,
        )
        return row


def _adjustment_movements(
    *, balance: CreditBalance, user: User, amount: int, actor: User, now: datetime
) -> list[tuple[int, int]]:
    """Under the balance lock: the lot movements of a correction. Positive: a new ADJUSTMENT
    lot (refused past CREDITS_MAX); negative: drawn from the live lots (refused below zero)."""
    if amount > 0 and balance.balance + amount > CREDITS_MAX:
        raise InvalidCreditAmount(
            f"The balance is {balance.balance:,}: adding {amount:,} credits would pass the "
            f"most a balance holds ({CREDITS_MAX:,}).",
            code="balance_too_large",
            balance=balance.balance,
        )
    if amount > 0:
        lot = new_lot(
            user_id=user.pk,
            amount=amount,
            source=GrantSource.ADJUSTMENT,
            source_ref=f"staff:{actor.pk}",
        )
        return [(lot.pk, amount)]
    lots = lock_live_lots(balance, now)
    if balance.balance + amount < 0:
        raise AdjustmentBelowZero(
            f"The balance is {balance.balance}; it cannot go below zero.",
            balance=balance.balance,
        )
    return draw(lots, -amount, now)
