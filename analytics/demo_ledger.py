"""The demo's backdated credits ledger for one customer (``analytics.demo``).

The credits ledger is append-only (no UPDATE), and its services stamp rows with the current
time, so the backdated history is written here with the same rules the services keep: lots
consumed in order, ``balance_after`` running, and balance = Σ ledger = Σ lots remaining at the
end (``credits.invariant.check_invariant`` passes for every demo customer).
"""

from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    GrantSource,
    TransactionKind,
    TransactionLot,
)


class _Ledger:
    """One user's history being written: the open lots, the running balance, and the ledger
    rows with the lots each one moved, saved together at the end."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.lots: list[list] = []  # [CreditGrant, remaining]
        self.balance = 0
        self.rows: list[CreditTransaction] = []
        self.movements: list[list] = []

    def grant(self, moment, amount: int) -> None:
        """A grant opens a lot."""
        lot = CreditGrant.objects.create(
            user_id=self.user_id,
            source=GrantSource.PLAN,
            amount=amount,
            remaining=amount,
            source_ref="analytics-demo",
        )
        self.lots.append([lot, amount])
        self.balance += amount
        self.rows.append(
            CreditTransaction(
                user_id=self.user_id,
                kind=TransactionKind.GRANT,
                amount=amount,
                balance_after=self.balance,
                created_at=moment,
                details={"demo": "analytics"},
            )
        )
        self.movements.append([(lot, amount)])

    def consume(self, moment, operation: str, cost: int, quantity: int) -> None:
        """Consumption draws from the oldest lots first; skipped when the balance cannot
        cover it."""
        if cost > self.balance:
            return
        draw, need = [], cost
        for entry in self.lots:
            if need == 0:
                break
            part = min(entry[1], need)
            if part:
                entry[1] -= part
                need -= part
                draw.append((entry[0], -part))
        self.balance -= cost
        self.rows.append(
            CreditTransaction(
                user_id=self.user_id,
                kind=TransactionKind.CONSUME,
                operation=operation,
                quantity=quantity,
                amount=-cost,
                balance_after=self.balance,
                created_at=moment,
                details={"demo": "analytics"},
            )
        )
        self.movements.append(draw)

    def save(self) -> None:
        """The ledger rows and their lot movements, the lots' remainders and the balance."""
        CreditTransaction.objects.bulk_create(self.rows)
        TransactionLot.objects.bulk_create(
            [
                TransactionLot(transaction=row, grant=lot, amount=part)
                for row, parts in zip(self.rows, self.movements, strict=True)
                for lot, part in parts
            ]
        )
        for lot, remaining in self.lots:
            if remaining != lot.amount:
                CreditGrant.objects.filter(pk=lot.pk).update(remaining=remaining)
        CreditBalance.objects.update_or_create(
            user_id=self.user_id, defaults={"balance": self.balance}
        )


def write_ledger(user_id: int, events: list) -> int:
    """Lots and ledger rows for one user's backdated history, ``events`` in time order:
    ``(moment, "grant", amount)`` or ``(moment, operation, cost, quantity)``. Returns the
    number of ledger rows written."""
    ledger = _Ledger(user_id)
    for event in events:
        if event[1] == "grant":
            ledger.grant(event[0], event[2])
        else:
            ledger.consume(event[0], event[1], event[2], event[3])
    ledger.save()
    return len(ledger.rows)
