"""The simulation behind seed_history: customer events in time order, each writing the
ledger rows, lot movements, documents, audit rows and support rows it would in the product."""

import bisect
import random
from datetime import UTC, datetime, timedelta

from analytics.seed_history.billing_rows import BillingRows
from analytics.seed_history.inputs import Customer, Lot, Pack
from analytics.seed_history.rows import (
    TABLES,
    Ids,
    Writer,
    jsonb,
    opt,
    table_ids,
)
from analytics.seed_history.support_rows import SupportRows

CHUNK = 50_000  # ledger rows per round of COPY statements
REFUND_GRACE = timedelta(days=7)  # as credits.services.REFUND_GRACE
OUTBOX_KEPT = timedelta(days=7)  # published outbox rows are pruned after a week

# How often, per customer event, the rarer things happen.
P_REFUND, P_ADJUST = 0.012, 0.004
P_LOGIN, P_TICKET, P_CONVERSATION = 0.6, 1 / 1500, 1 / 400
OPERATION_WEIGHT = {
    "AI_TEXT_CHAT": 50,
    "SHORTS_SCRIPT": 20,
    "AI_IMAGE_GENERATION": 15,
    "SHORTS_MEDIA": 10,
    "AI_VIDEO_GENERATION": 5,
}
QUANTITY = ([1] * 6) + [2, 2, 3, 5]

LOGIN_VALUES = {"method": "password"}


class _Stop(Exception):
    """The ledger has its rows."""


class History(BillingRows, SupportRows):
    """The simulation of some customers and its buffers: ``step`` by ``step`` it writes
    ``rows`` ledger rows, then ``finish`` sets the balances. Each round's rows go to the
    writer; constraints are checked as each round is written (SET CONSTRAINTS ALL
    IMMEDIATE), so every round is whole: lots before the ledger rows that move them, lots
    already written updated to what they hold now."""

    def __init__(
        self,
        *,
        cursor,
        writer: Writer,
        rows: int,
        customers: list[Customer],
        weights: list[float],
        operations: list[tuple[str, int]],
        packs: list[Pack],
        staff: list[tuple],
        start: datetime,
        end: datetime,
        rng: random.Random,
    ):
        self.cursor, self.writer, self.left, self.rng = cursor, writer, rows, rng
        self.customers, self.start, self.end = customers, start, end
        self.cumulative = list(_accumulate(weights))
        self.operations = operations
        self.op_cumulative = list(
            _accumulate([OPERATION_WEIGHT.get(op, 5) for op, _ in operations])
        )
        self.packs, self.staff = packs, staff
        self.buffers: dict[str, list[str]] = {table: [] for table in TABLES}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.new_lots: list[Lot] = []
        self.dirty_lots: list[Lot] = []
        chunk = min(CHUNK, rows)
        self.ledger_id = table_ids(cursor, "credits_credittransaction", chunk)
        self.lot_id = table_ids(cursor, "credits_creditgrant", chunk // 20 + 10)
        self.order_id = table_ids(cursor, "billing_order", chunk // 50 + 10)
        self.item_id = table_ids(cursor, "billing_orderitem", chunk // 50 + 10)
        self.invoice_id = table_ids(cursor, "billing_invoice", chunk // 50 + 10)
        self.event_id = table_ids(cursor, "billing_webhookevent", chunk // 20 + 10)
        self.ticket_id = table_ids(cursor, "support_ticket", chunk // 500 + 10)
        self.conversation_id = table_ids(cursor, "support_conversation", chunk // 200 + 10)
        self.order_number = Ids(cursor, "billing_order_number_seq", chunk // 50 + 10)
        self.invoice_number = Ids(cursor, "billing_invoice_number_seq", chunk // 50 + 10)
        self.sequences = [
            self.ledger_id,
            self.lot_id,
            self.order_id,
            self.item_id,
            self.invoice_id,
            self.event_id,
            self.ticket_id,
            self.conversation_id,
            self.order_number,
            self.invoice_number,
        ]
        self.outbox_from = end - OUTBOX_KEPT
        self.pending_ledger = 0
        # One customer event per step of the timeline; an event writes one ledger row or
        # more, so the rows run out before the steps do: the last row is dated a little
        # before the end.
        self.first = start.timestamp()
        self.spacing = (end.timestamp() - self.first) / max(rows, 1)
        self.events, self.done = 0, False

    # --- the timeline ------------------------------------------------------------------------

    def step(self) -> bool:
        """Simulate one round (``CHUNK`` ledger rows, fewer at the end) and hand it to the
        writer; False once the last round is handed over."""
        if self.done:
            return False
        self.reserve()
        random_, customers, cumulative = self.rng.random, self.customers, self.cumulative
        total = cumulative[-1]
        try:
            while self.pending_ledger < CHUNK:
                at = self.first + self.spacing * (self.events + random_())
                self.events += 1
                customer = customers[bisect.bisect(cumulative, random_() * total)]
                self.event(customer, datetime.fromtimestamp(at, UTC), int(at // 86400))
        except _Stop:
            self.done = True
        self.flush()
        return not self.done

    def reserve(self) -> None:
        """Ids for the next round, taken now (before it is simulated) so the simulation
        rarely has to wait for the writer's use of the connection."""
        for ids in self.sequences:
            ids.ensure(ids.batch)

    def event(self, customer: Customer, moment: datetime, day: int) -> None:
        # Periods renew whether or not the customer was active: catch up first, each period's
        # unused plan credits expiring as the next one starts.
        while customer.next_renewal is not None and customer.next_renewal <= moment:
            self.expire(customer, customer.next_renewal)
            self.renew(customer, customer.next_renewal)
        lots = customer.lots
        if lots and lots[0].expires_at is not None and lots[0].expires_at <= moment:
            self.expire(customer, moment)
        random_ = self.rng.random
        roll = random_()
        if roll < P_REFUND and customer.recent:
            self.refund(customer, moment)
        elif roll < P_REFUND + P_ADJUST and self.staff:
            self.adjust(customer, moment)
        else:
            self.consume(customer, moment)
        if customer.last_login_day != day:
            customer.last_login_day = day
            if random_() < P_LOGIN:
                self.audit(
                    customer.user_id,
                    customer.email,
                    "LOGIN",
                    "accounts.User",
                    customer.user_id,
                    moment,
                    new=LOGIN_VALUES,
                )
        roll = random_()
        if roll < P_TICKET:
            self.ticket(customer, moment)
        elif roll < P_TICKET + P_CONVERSATION:
            self.conversation(customer, moment)

    # --- credits -----------------------------------------------------------------------------

    def need(self, rows: int) -> None:
        if self.left < rows:
            raise _Stop

    def ledger(
        self,
        customer: Customer,
        *,
        kind: str,
        moment: datetime,
        movements: list[tuple[Lot, int]],
        operation: str = "",
        quantity=None,
        details: str = "{}",
        key: str = "",
        refund_of=None,
        actor=None,
        row_id: int | None = None,
    ) -> int:
        """One ledger row and its lot movements; the lots' ``remaining`` already moved."""
        row_id = row_id or self.ledger_id()
        amount = 0
        lots = self.buffers["credits_transactionlot"]
        for lot, part in movements:
            amount += part
            lots.append(f"{row_id}\t{lot.id}\t{part}\n")
            if lot.written and not lot.dirty:
                lot.dirty = True
                self.dirty_lots.append(lot)
        customer.balance += amount
        self.buffers["credits_credittransaction"].append(
            f"{row_id}\t{customer.user_id}\t{kind}\t{operation}\t{opt(quantity)}\t{amount}\t"
            f"{customer.balance}\t{details}\t{key}\t{opt(refund_of)}\t{opt(actor)}\t"
            f"{moment.isoformat()}\n"
        )
        self.left -= 1
        self.pending_ledger += 1
        return row_id

    def new_lot(
        self,
        customer: Customer,
        *,
        source: str,
        amount: int,
        moment: datetime,
        expires_at=None,
        source_ref: str = "",
        key: str = "",
    ) -> Lot:
        lot = Lot(
            id=self.lot_id(),
            user_id=customer.user_id,
            source=source,
            amount=amount,
            remaining=amount,
            expires_at=expires_at,
            created_at=moment,
            source_ref=source_ref,
            key=key,
        )
        self.new_lots.append(lot)
        customer.add_lot(lot)
        return lot

    def grant(
        self,
        customer: Customer,
        *,
        source: str,
        amount: int,
        moment: datetime,
        expires_at=None,
        source_ref: str = "",
        key: str = "",
        actor=None,
        kind: str = "GRANT",
        details: dict | None = None,
    ) -> int:
        lot = self.new_lot(
            customer,
            source=source,
            amount=amount,
            moment=moment,
            expires_at=expires_at,
            source_ref=source_ref,
            key=key,
        )
        return self.ledger(
            customer,
            kind=kind,
            moment=moment,
            movements=[(lot, amount)],
            key=key,
            actor=actor,
            details=jsonb(
                {
                    **(details or {}),
                    "source": source,
                    "grant_id": lot.id,
                    "source_ref": source_ref,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                }
            ),
        )

    def expire(self, customer: Customer, moment: datetime) -> None:
        lots = customer.lots
        while lots and lots[0].expires_at is not None and lots[0].expires_at <= moment:
            self.need(1)
            lot = lots.pop(0)
            left, lot.remaining, lot.expired_at = lot.remaining, 0, moment
            self.ledger(
                customer,
                kind="EXPIRE",
                moment=moment,
                movements=[(lot, -left)],
                key=f"expire:lot:{lot.id}",
                details=jsonb(
                    {
                        "grant_id": lot.id,
                        "source": lot.source,
                        "expires_at": lot.expires_at.isoformat(),
                    }
                ),
            )

    def consume(self, customer: Customer, moment: datetime) -> None:
        random_ = self.rng.random
        operation, unit = self.operations[
            bisect.bisect(self.op_cumulative, random_() * self.op_cumulative[-1])
        ]
        quantity = QUANTITY[int(random_() * len(QUANTITY))]
        cost = unit * quantity
        if customer.balance < cost:
            self.need(2)
            self.purchase(customer, moment, cost)
        self.need(1)
        row_id = self.ledger_id()
        lots, movements, need = customer.lots, [], cost
        while need:  # the lots that expire first; the balance covers the cost
            lot = lots[0]
            part = lot.remaining if lot.remaining < need else need
            lot.remaining -= part
            need -= part
            movements.append((lot, -part))
            if not lot.remaining:
                lots.pop(0)
        self.ledger(
            customer,
            kind="CONSUME",
            moment=moment,
            movements=movements,
            operation=operation,
            quantity=quantity,
            row_id=row_id,
            key=f"req-{row_id}" if random_() < 0.3 else "",
        )
        customer.recent.append((row_id, operation, quantity, movements))

    def refund(self, customer: Customer, moment: datetime) -> None:
        self.need(1)
        consumed, operation, quantity, drawn = customer.recent.pop()
        movements, lapsed = [], 0
        for lot, part in drawn:
            if lot.expired_at is None and (lot.expires_at is None or lot.expires_at > moment):
                if not lot.remaining:
                    customer.add_lot(lot)
                lot.remaining -= part  # part is negative: what was drawn comes back
                movements.append((lot, -part))
            else:
                lapsed -= part
        if lapsed:
            fresh = self.new_lot(
                customer,
                source="REFUND",
                amount=lapsed,
                moment=moment,
                expires_at=moment + REFUND_GRACE,
                source_ref=f"refund-of:{consumed}",
            )
            movements.append((fresh, lapsed))
        staff = self.rng.choice(self.staff) if self.staff and self.rng.random() < 0.5 else None
        reason = "Generation failed" if staff is None else "Goodwill refund from support"
        row_id = self.ledger(
            customer,
            kind="REFUND",
            moment=moment,
            movements=movements,
            operation=operation,
            quantity=quantity,
            refund_of=consumed,
            actor=staff and staff[0],
            details=jsonb({"reason": reason, "refund_of": consumed}),
        )
        if staff:
            self.audit(
                staff[0],
                staff[1],
                "REFUND",
                "credits.CreditTransaction",
                row_id,
                moment,
                new={"amount": -sum(p for _, p in drawn), "balance": customer.balance},
                context={"reason": reason, "refund_of": consumed, "user_id": customer.user_id},
            )

    def adjust(self, customer: Customer, moment: datetime) -> None:
        self.need(1)
        staff = self.rng.choice(self.staff)
        amount = self.rng.choice([50, 100, 250, 500])
        reason = "Goodwill credits after a support ticket"
        old = customer.balance
        row_id = self.grant(
            customer,
            source="ADJUSTMENT",
            amount=amount,
            moment=moment,
            source_ref=f"staff:{staff[0]}",
            actor=staff[0],
            kind="ADJUST",
            details={"reason": reason},
        )
        self.audit(
            staff[0],
            staff[1],
            "CREDIT_ADJUST",
            "credits.CreditTransaction",
            row_id,
            moment,
            old={"balance": old},
            new={"balance": customer.balance},
            context={"reason": reason, "amount": amount, "user_id": customer.user_id},
        )

    # --- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand this round's rows to the writer: new lots first, then everything that points
        at them, then the lots written earlier that changed since."""
        self.buffers["credits_creditgrant"] = [lot.row() for lot in self.new_lots]
        for lot in self.new_lots:
            lot.written = True
        updates = [(lot.id, lot.remaining, lot.expired_at) for lot in self.dirty_lots]
        for lot in self.dirty_lots:
            lot.dirty = False
        self.new_lots, self.dirty_lots = [], []
        copies = []
        for table in TABLES:
            lines = self.buffers[table]
            if lines:
                copies.append((table, "".join(lines), len(lines)))
                self.counts[table] += len(lines)
                self.buffers[table] = []
        self.writer.put(copies, updates, self.pending_ledger)
        self.pending_ledger = 0

    def finish(self) -> None:
        """Once every round is written: each customer's balance is what their ledger says."""
        self.writer.close()
        self.cursor.execute(
            """
            UPDATE credits_creditbalance AS b SET balance = v.balance, updated_at = now()
              FROM unnest(%s::bigint[], %s::int[]) AS v(user_id, balance)
             WHERE b.user_id = v.user_id""",
            [[c.user_id for c in self.customers], [c.balance for c in self.customers]],
        )


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total
