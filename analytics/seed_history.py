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

from __future__ import annotations

import bisect
import json
import queue
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

HEAVY_SHARE = 0.2
DEFAULT_CUSTOMERS = 100
DEFAULT_DAYS = 730
SEED = 20261205
CHUNK = 50_000  # ledger rows per round of COPY statements
PLAN_PERIOD = timedelta(days=30)
REFUND_GRACE = timedelta(days=7)  # as credits.services.REFUND_GRACE
OUTBOX_KEPT = timedelta(days=7)  # published outbox rows are pruned after a week

# How often, per customer event, the rarer things happen.
P_REFUND, P_ADJUST = 0.012, 0.004
P_LOGIN, P_TICKET, P_CONVERSATION = 0.6, 1 / 1500, 1 / 400
P_STRIPE = 0.6  # of purchases and subscriptions paid through Stripe
OPERATION_WEIGHT = {"AI_TEXT_CHAT": 50, "SHORTS_SCRIPT": 20, "AI_IMAGE_GENERATION": 15,
                    "SHORTS_MEDIA": 10, "AI_VIDEO_GENERATION": 5}
QUANTITY = ([1] * 6) + [2, 2, 3, 5]

IPS = [f"203.0.113.{n}" for n in range(1, 60)] + [f"198.51.100.{n}" for n in range(1, 60)]
AGENTS = ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"]
TICKETS = [
    ("Invoice question", "The amount on my last invoice is not what I expected."),
    ("Credits missing", "I bought a credit pack but my balance did not change right away."),
    ("Card declined", "My card was declined when I tried to renew."),
    ("Refund request", "A video generation failed halfway; can I get my credits back?"),
    ("Cannot export", "The export of my data takes a long time to start."),
    ("Feature request", "Could the usage chart show more than one year?"),
]
REPLIES = ["Thanks for writing in; I am looking into it now.",
           "This is fixed on our side; please try again.",
           "I have added the credits back to your balance."]
QUESTIONS = [("How do I change my plan?", "Go to Billing, then Change plan.", True),
             ("Do unused credits roll over?", "Plan credits expire at the period end; "
              "credit packs never expire.", True),
             ("Can I get an invoice with my VAT number?", "I could not find an answer to "
              "that; a person from support will reply.", False),
             ("Why was I charged twice?", "I could not find an answer to that; a person from "
              "support will reply.", False)]

NULL = "\\N"


def text(value: str) -> str:
    """A string as COPY's text format needs it."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def jsonb(value) -> str:
    return text(json.dumps(value, separators=(",", ":")))


def stamp(moment: datetime | None) -> str:
    return NULL if moment is None else moment.isoformat()


def opt(value) -> str:
    return NULL if value is None else str(value)


# The columns written, table by table; any other column must be nullable or have a default
# (``_check_columns`` says which one is missing when a model gains a required field).
COLUMNS = {
    "credits_creditgrant": "id created_at updated_at user_id source amount remaining "
                           "expires_at expired_at source_ref idempotency_key",
    "credits_credittransaction": "id user_id kind operation quantity amount balance_after "
                                 "details idempotency_key refund_of_id actor_id created_at",
    "credits_transactionlot": "transaction_id grant_id amount",
    "billing_order": "id created_at updated_at number user_id status payment_status "
                     "billing_source currency subtotal discount_amount tax total "
                     "refunded_amount shipping_address notes internal_notes metadata "
                     "stripe_checkout_session_id stripe_payment_intent_id checkout_url "
                     "completed_at",
    "billing_orderitem": "id created_at updated_at order_id product_id price_id description "
                         "product_type quantity unit_amount line_total discount_amount "
                         "tax_rate tax credits_granted download_count",
    "billing_invoice": "id created_at updated_at number user_id order_id subscription_id "
                       "status billing_source currency lines subtotal discount_amount tax "
                       "total amount_paid amount_due period_start period_end due_date "
                       "paid_at payment_reference stripe_invoice_id stripe_number "
                       "hosted_invoice_url billing_reason finalized_at",
    "billing_payment": "created_at updated_at user_id order_id invoice_id provider "
                       "provider_id amount currency status method_type method_brand "
                       "method_last4 paid_at recorded_by_id metadata",
    "billing_webhookevent": "id created_at updated_at stripe_event_id type livemode "
                            "api_version object_id payload status attempts last_error "
                            "received_at processing_started_at processed_at event_created",
    "outbox_outboxmessage": "task args kwargs created_at published_at attempts last_error "
                            "completed_at",
    "accounts_auditlog": "actor_id actor_email action resource_type resource_id old_values "
                         "new_values context ip_address user_agent created_at",
    "support_ticket": "id created_at updated_at number customer_id assignee_id subject "
                      "description status priority metadata first_response_at resolved_at "
                      "closed_at first_response_due_at resolution_due_at",
    "support_ticketmessage": "created_at updated_at ticket_id author_id body internal",
    "support_conversation": "id created_at updated_at customer_id resolved handed_off_at",
    "support_chatmessage": "created_at updated_at conversation_id role body answered helpful "
                           "rated_at",
}
# Written in this order each round: a row after the rows it points at, as foreign keys are
# checked when each COPY ends.
TABLES = list(COLUMNS)
LOGIN_VALUES = {"method": "password"}


class SeedError(Exception):
    """The database lacks what the history needs (no customers, no feature costs, ...)."""


@dataclass
class Stats:
    customers: int = 0
    heavy_email: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ledger_rows(self) -> int:
        return self.rows.get("credits_credittransaction", 0)


class _Stop(Exception):
    """The ledger has its rows."""


class Lot:
    __slots__ = ("id", "user_id", "source", "amount", "remaining", "expires_at",
                 "expired_at", "source_ref", "key", "created_at", "written", "dirty", "order")

    def __init__(self, *, id, user_id, source, amount, remaining, expires_at, created_at,
                 source_ref="", key="", written=False):
        self.id, self.user_id, self.source = id, user_id, source
        self.amount, self.remaining, self.expires_at = amount, remaining, expires_at
        self.expired_at, self.source_ref, self.key = None, source_ref, key
        self.created_at, self.written, self.dirty = created_at, written, False
        # Drawing order: first to expire first (no expiry last), then oldest.
        self.order = (expires_at.timestamp() if expires_at else float("inf"), id)

    def row(self) -> str:
        return "\t".join([str(self.id), self.created_at.isoformat(),
                          self.created_at.isoformat(), str(self.user_id), self.source,
                          str(self.amount), str(self.remaining), stamp(self.expires_at),
                          stamp(self.expired_at), text(self.source_ref), text(self.key)]) + "\n"


class Customer:
    __slots__ = ("user_id", "email", "balance", "lots", "recent", "subscription",
                 "next_renewal", "last_login_day")

    def __init__(self, user_id, email, balance):
        self.user_id, self.email, self.balance = user_id, email, balance
        self.lots: list[Lot] = []  # live lots (credits left, not expired), drawing order
        self.recent: deque = deque(maxlen=8)  # recent consumptions that may be refunded
        self.subscription: Subscription | None = None
        self.next_renewal: datetime | None = None
        self.last_login_day = -1

    def add_lot(self, lot: Lot) -> None:
        bisect.insort(self.lots, lot, key=lambda x: x.order)


@dataclass
class Subscription:
    id: int
    source: str
    plan_slug: str
    credits: int
    amount: int
    currency: str


@dataclass
class Pack:
    product_id: int
    price_id: int
    name: str
    credits: int
    amount: int
    currency: str


class Ids:
    """Ids taken from a sequence in batches, so rows can point at each other before they are
    written and the application's later inserts never collide with them. Ascending."""

    def __init__(self, cursor, sequence: str, batch: int):
        self.cursor, self.sequence, self.batch = cursor, sequence, batch
        self.pool: list[int] = []  # descending: pop() gives the smallest

    def __call__(self) -> int:
        if not self.pool:
            self.ensure(self.batch)
        return self.pool.pop()

    def ensure(self, count: int) -> None:
        """At least ``count`` ids at hand (one round trip when more are needed)."""
        if len(self.pool) >= count:
            return
        self.cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)",
                            [self.sequence, count - len(self.pool) + self.batch])
        self.pool = [value for (value,) in self.cursor.fetchall()][::-1] + self.pool


def _table_ids(cursor, table: str, batch: int) -> Ids:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return Ids(cursor, cursor.fetchone()[0], batch)


def _check_columns(cursor) -> None:
    for table, names in COLUMNS.items():
        cursor.execute("""
            SELECT column_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = %s AND is_nullable = 'NO'
               AND column_default IS NULL AND is_generated = 'NEVER' AND is_identity = 'NO'
            """, [table])
        missing = sorted({name for (name,) in cursor.fetchall()} - set(names.split()))
        if missing:
            raise SeedError(f"{table} has required columns seed_history does not write: "
                            f"{', '.join(missing)}")


class Writer:
    """Writes each round's rows in a thread of its own, on the same connection (psycopg
    serialises its use), so PostgreSQL inserts and checks one round while the next one is
    simulated. At most one round waits: a slower server holds the simulation back."""

    def __init__(self, raw_connection, progress: Callable[[int], None]):
        self.connection, self.progress = raw_connection, progress
        self.rounds: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="seed_history-writer",
                                       daemon=True)
        self.thread.start()

    def put(self, copies: list[tuple[str, str, int]], lot_updates: list, ledger_rows: int):
        self.check()
        self.rounds.put((copies, lot_updates, ledger_rows))

    def close(self) -> None:
        self.rounds.put(None)
        self.thread.join()
        self.check()

    def abandon(self) -> None:
        """Stop after the round being written (the transaction is rolled back anyway)."""
        self.error = self.error or RuntimeError("abandoned")
        self.rounds.put(None)
        self.thread.join()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        while (work := self.rounds.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread raises the first error
            try:
                self._write(*work)
            except BaseException as exc:  # handed to the main thread, which raises it
                self.error = exc

    def _write(self, copies, lot_updates, ledger_rows) -> None:
        with self.connection.cursor() as cursor:
            for table, data, _ in copies:
                columns = ", ".join(COLUMNS[table].split())
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(data)
            if lot_updates:
                cursor.execute("""
                    UPDATE credits_creditgrant AS g
                       SET remaining = v.remaining, expired_at = v.expired_at,
                           updated_at = now()
                      FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[])
                           AS v(id, remaining, expired_at)
                     WHERE g.id = v.id""", [list(column) for column in zip(*lot_updates,
                                                                            strict=True)])
        self.progress(ledger_rows)


class History:
    """The simulation and its buffers: ``run`` writes ``rows`` ledger rows, then the
    balances. Each round's rows go to the writer; constraints are checked as each round is
    written (SET CONSTRAINTS ALL IMMEDIATE), so every round is whole: lots before the ledger
    rows that move them, lots already written updated to what they hold now."""

    def __init__(self, *, cursor, writer: Writer, rows: int, customers: list[Customer],
                 weights: list[float], operations: list[tuple[str, int]], packs: list[Pack],
                 staff: list[tuple], start: datetime, end: datetime, rng: random.Random):
        self.cursor, self.writer, self.left, self.rng = cursor, writer, rows, rng
        self.customers, self.start, self.end = customers, start, end
        self.cumulative = list(_accumulate(weights))
        self.operations = operations
        self.op_cumulative = list(_accumulate([OPERATION_WEIGHT.get(op, 5)
                                               for op, _ in operations]))
        self.packs, self.staff = packs, staff
        self.buffers: dict[str, list[str]] = {table: [] for table in TABLES}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.new_lots: list[Lot] = []
        self.dirty_lots: list[Lot] = []
        chunk = min(CHUNK, rows)
        self.ledger_id = _table_ids(cursor, "credits_credittransaction", chunk)
        self.lot_id = _table_ids(cursor, "credits_creditgrant", chunk // 20 + 10)
        self.order_id = _table_ids(cursor, "billing_order", chunk // 50 + 10)
        self.item_id = _table_ids(cursor, "billing_orderitem", chunk // 50 + 10)
        self.invoice_id = _table_ids(cursor, "billing_invoice", chunk // 50 + 10)
        self.event_id = _table_ids(cursor, "billing_webhookevent", chunk // 20 + 10)
        self.ticket_id = _table_ids(cursor, "support_ticket", chunk // 500 + 10)
        self.conversation_id = _table_ids(cursor, "support_conversation", chunk // 200 + 10)
        self.order_number = Ids(cursor, "billing_order_number_seq", chunk // 50 + 10)
        self.invoice_number = Ids(cursor, "billing_invoice_number_seq", chunk // 50 + 10)
        self.sequences = [self.ledger_id, self.lot_id, self.order_id, self.item_id,
                          self.invoice_id, self.event_id, self.ticket_id, self.conversation_id,
                          self.order_number, self.invoice_number]
        self.outbox_from = end - OUTBOX_KEPT
        self.pending_ledger = 0

    # --- the timeline ------------------------------------------------------------------------

    def run(self) -> None:
        self.reserve()
        start = self.start.timestamp()
        # One customer event per step; an event writes one ledger row or more, so the rows
        # run out before the steps do and the last row is dated a little before the end.
        step = (self.end.timestamp() - start) / max(self.left, 1)
        random_, customers, cumulative = self.rng.random, self.customers, self.cumulative
        total = cumulative[-1]
        i = 0
        try:
            while True:
                at = start + step * (i + random_())
                i += 1
                customer = customers[bisect.bisect(cumulative, random_() * total)]
                self.event(customer, datetime.fromtimestamp(at, UTC), int(at // 86400))
                if self.pending_ledger >= CHUNK:
                    self.flush()
                    self.reserve()
        except _Stop:
            pass
        self.flush()

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
                self.audit(customer.user_id, customer.email, "LOGIN", "accounts.User",
                           customer.user_id, moment, new=LOGIN_VALUES)
        roll = random_()
        if roll < P_TICKET:
            self.ticket(customer, moment)
        elif roll < P_TICKET + P_CONVERSATION:
            self.conversation(customer, moment)

    # --- credits -----------------------------------------------------------------------------

    def need(self, rows: int) -> None:
        if self.left < rows:
            raise _Stop

    def ledger(self, customer: Customer, *, kind: str, moment: datetime,
               movements: list[tuple[Lot, int]], operation: str = "", quantity=None,
               details: str = "{}", key: str = "", refund_of=None, actor=None,
               row_id: int | None = None) -> int:
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
            f"{moment.isoformat()}\n")
        self.left -= 1
        self.pending_ledger += 1
        return row_id

    def new_lot(self, customer: Customer, *, source: str, amount: int, moment: datetime,
                expires_at=None, source_ref: str = "", key: str = "") -> Lot:
        lot = Lot(id=self.lot_id(), user_id=customer.user_id, source=source, amount=amount,
                  remaining=amount, expires_at=expires_at, created_at=moment,
                  source_ref=source_ref, key=key)
        self.new_lots.append(lot)
        customer.add_lot(lot)
        return lot

    def grant(self, customer: Customer, *, source: str, amount: int, moment: datetime,
              expires_at=None, source_ref: str = "", key: str = "", actor=None,
              kind: str = "GRANT", details: dict | None = None) -> int:
        lot = self.new_lot(customer, source=source, amount=amount, moment=moment,
                           expires_at=expires_at, source_ref=source_ref, key=key)
        return self.ledger(customer, kind=kind, moment=moment, movements=[(lot, amount)],
                           key=key, actor=actor, details=jsonb({
                               **(details or {}), "source": source, "grant_id": lot.id,
                               "source_ref": source_ref,
                               "expires_at": expires_at.isoformat() if expires_at else None}))

    def expire(self, customer: Customer, moment: datetime) -> None:
        lots = customer.lots
        while lots and lots[0].expires_at is not None and lots[0].expires_at <= moment:
            self.need(1)
            lot = lots.pop(0)
            left, lot.remaining, lot.expired_at = lot.remaining, 0, moment
            self.ledger(customer, kind="EXPIRE", moment=moment, movements=[(lot, -left)],
                        key=f"expire:lot:{lot.id}", details=jsonb({
                            "grant_id": lot.id, "source": lot.source,
                            "expires_at": lot.expires_at.isoformat()}))

    def consume(self, customer: Customer, moment: datetime) -> None:
        random_ = self.rng.random
        operation, unit = self.operations[
            bisect.bisect(self.op_cumulative, random_() * self.op_cumulative[-1])]
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
        self.ledger(customer, kind="CONSUME", moment=moment, movements=movements,
                    operation=operation, quantity=quantity, row_id=row_id,
                    key=f"req-{row_id}" if random_() < 0.3 else "")
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
            fresh = self.new_lot(customer, source="REFUND", amount=lapsed, moment=moment,
                                 expires_at=moment + REFUND_GRACE,
                                 source_ref=f"refund-of:{consumed}")
            movements.append((fresh, lapsed))
        staff = self.rng.choice(self.staff) if self.staff and self.rng.random() < 0.5 else None
        reason = "Generation failed" if staff is None else "Goodwill refund from support"
        row_id = self.ledger(customer, kind="REFUND", moment=moment, movements=movements,
                             operation=operation, quantity=quantity, refund_of=consumed,
                             actor=staff and staff[0],
                             details=jsonb({"reason": reason, "refund_of": consumed}))
        if staff:
            self.audit(staff[0], staff[1], "REFUND", "credits.CreditTransaction", row_id,
                       moment, new={"amount": -sum(p for _, p in drawn),
                                    "balance": customer.balance},
                       context={"reason": reason, "refund_of": consumed,
                                "user_id": customer.user_id})

    def adjust(self, customer: Customer, moment: datetime) -> None:
        self.need(1)
        staff = self.rng.choice(self.staff)
        amount = self.rng.choice([50, 100, 250, 500])
        reason = "Goodwill credits after a support ticket"
        old = customer.balance
        row_id = self.grant(customer, source="ADJUSTMENT", amount=amount, moment=moment,
                            source_ref=f"staff:{staff[0]}", actor=staff[0], kind="ADJUST",
                            details={"reason": reason})
        self.audit(staff[0], staff[1], "CREDIT_ADJUST", "credits.CreditTransaction",
                   row_id, moment, old={"balance": old}, new={"balance": customer.balance},
                   context={"reason": reason, "amount": amount, "user_id": customer.user_id})

    # --- billing -----------------------------------------------------------------------------

    def purchase(self, customer: Customer, moment: datetime, cost: int) -> None:
        """A credit pack bought because the balance ran short: the order, its payment (bank
        transfer against an invoice, or Stripe with its webhook events) and the lot."""
        rng = self.rng
        pack = rng.choice(self.packs)
        quantity = max(1, -(-cost // pack.credits)) * rng.choice([1, 1, 1, 2])
        total, credits = pack.amount * quantity, pack.credits * quantity
        order_id, item_id = self.order_id(), self.item_id()
        number = f"ORD-{moment.year}-{self.order_number():06d}"
        stripe = rng.random() < P_STRIPE
        # Ordered a little before: the credits arrive as the payment does, at ``moment``.
        paid, moment = moment, moment - timedelta(minutes=rng.randrange(1, 30))
        session = f"cs_hist_{order_id:x}" if stripe else None
        intent = f"pi_hist_{order_id:x}" if stripe else None
        self.buffers["billing_order"].append("\t".join([
            str(order_id), moment.isoformat(), paid.isoformat(), number,
            str(customer.user_id), "COMPLETED", "SUCCEEDED", "stripe" if stripe else "manual",
            pack.currency, str(total), "0", "0", str(total), "0", "{}", "", "", "{}",
            opt(session), opt(intent), "", paid.isoformat()]) + "\n")
        self.buffers["billing_orderitem"].append("\t".join([
            str(item_id), moment.isoformat(), moment.isoformat(), str(order_id),
            str(pack.product_id), str(pack.price_id), text(pack.name), "CREDIT_PACK", str(quantity),
            str(pack.amount), str(total), "0", "0", "0", str(credits), "0"]) + "\n")
        self.audit(customer.user_id, customer.email, "CREATE", "billing.Order", order_id,
                   moment, new={"number": number, "total": total, "currency": pack.currency})
        if stripe:
            self.payment(customer, order_id=order_id, invoice_id=None, provider="stripe",
                         provider_id=intent, amount=total, currency=pack.currency, paid=paid)
            self.webhook("checkout.session.completed", session, "checkout.session", paid,
                         {"payment_intent": intent, "amount_total": total,
                          "client_reference_id": number})
            self.webhook("payment_intent.succeeded", intent, "payment_intent", paid,
                         {"amount": total, "currency": pack.currency, "status": "succeeded"})
        else:
            invoice_id = self.invoice(customer, moment=moment, order_id=order_id,
                                      subscription_id=None, total=total,
                                      currency=pack.currency, source="manual",
                                      reason="manual", paid=paid, reference=number,
                                      lines=[{"description": pack.name, "quantity": quantity,
                                              "unit_amount": pack.amount, "amount": total}])
            self.bank_transfer(customer, invoice_id=invoice_id, amount=total,
                               currency=pack.currency, paid=paid, reference=f"BANK-{number}")
        self.grant(customer, source="PURCHASE", amount=credits, moment=paid,
                   source_ref=number, key=f"order-item-{item_id}-credits",
                   details={"order": number, "order_item": item_id})

    def renew(self, customer: Customer, moment: datetime) -> None:
        """A paid plan period: its invoice and payment, then the plan's credits until the
        period ends."""
        self.need(1)
        sub = customer.subscription
        end = moment + PLAN_PERIOD
        customer.next_renewal = end
        stripe = sub.source == "stripe"
        invoice_id = self.invoice_id()
        invoice_number = f"INV-{moment.year}-{self.invoice_number():06d}"
        stripe_invoice = f"in_hist_{invoice_id:x}" if stripe else None
        self.invoice(customer, invoice_id=invoice_id, moment=moment, order_id=None,
                                  subscription_id=sub.id, total=sub.amount,
                                  currency=sub.currency, source=sub.source,
                                  reason="subscription_cycle", paid=moment,
                                  reference=invoice_number, number=invoice_number,
                                  stripe_invoice=stripe_invoice, period=(moment, end),
                                  lines=[{"description": f"{sub.plan_slug} (monthly)",
                                          "quantity": 1, "unit_amount": sub.amount,
                                          "amount": sub.amount}])
        if sub.amount:
            if stripe:
                intent = f"pi_hist_in{invoice_id:x}"
                self.payment(customer, order_id=None, invoice_id=invoice_id,
                             provider="stripe", provider_id=intent, amount=sub.amount,
                             currency=sub.currency, paid=moment)
                self.webhook("invoice.paid", stripe_invoice, "invoice", moment,
                             {"subscription": f"sub_hist_{sub.id:x}", "amount_paid": sub.amount,
                              "payment_intent": intent})
            else:
                self.bank_transfer(customer, invoice_id=invoice_id, amount=sub.amount,
                                   currency=sub.currency, paid=moment,
                                   reference=f"BANK-{invoice_number}")
        self.grant(customer, source="PLAN", amount=sub.credits, moment=moment,
                   expires_at=end, source_ref=invoice_number,
                   key=f"plan-credits-{stripe_invoice or invoice_number}",
                   details={"subscription": sub.id, "invoice": invoice_number,
                            "plan": sub.plan_slug})

    def invoice(self, customer: Customer, *, moment, order_id, subscription_id, total, currency,
                source, reason, paid, reference, lines, number=None, stripe_invoice=None,
                period=(None, None), invoice_id=None) -> int:
        invoice_id = invoice_id or self.invoice_id()
        number = number or f"INV-{moment.year}-{self.invoice_number():06d}"
        due = (moment + timedelta(days=14)).date().isoformat()
        self.buffers["billing_invoice"].append("\t".join([
            str(invoice_id), moment.isoformat(), paid.isoformat(), number,
            str(customer.user_id), opt(order_id), opt(subscription_id), "PAID", source,
            currency, jsonb(lines), str(total), "0", "0", str(total), str(total), "0",
            stamp(period[0]), stamp(period[1]), due, paid.isoformat(), reference,
            opt(stripe_invoice), "", "", reason, moment.isoformat()]) + "\n")
        return invoice_id

    def payment(self, customer: Customer, *, order_id, invoice_id, provider, provider_id,
                amount, currency, paid, recorded_by=None, method=("card", "visa", "4242")):
        self.buffers["billing_payment"].append("\t".join([
            paid.isoformat(), paid.isoformat(), str(customer.user_id), opt(order_id),
            opt(invoice_id), provider, provider_id, str(amount), currency, "SUCCEEDED",
            *method, paid.isoformat(), opt(recorded_by), "{}"]) + "\n")

    def bank_transfer(self, customer: Customer, *, invoice_id, amount, currency, paid,
                      reference) -> None:
        """What finance records with "Mark paid": the transfer and its audit row."""
        staff = self.rng.choice(self.staff) if self.staff else (None, "")
        self.payment(customer, order_id=None, invoice_id=invoice_id, provider="manual",
                     provider_id=reference, amount=amount, currency=currency, paid=paid,
                     recorded_by=staff[0], method=("bank_transfer", "", ""))
        self.audit(staff[0], staff[1], "UPDATE", "billing.Invoice", invoice_id, paid,
                   old={"status": "OPEN"}, new={"status": "PAID", "amount_paid": amount},
                   context={"reference": reference})

    def webhook(self, type_: str, object_id: str, object_type: str, moment: datetime,
                fields: dict) -> None:
        event_pk = self.event_id()
        event_id = f"evt_hist_{event_pk:x}"
        created = int(moment.timestamp())
        payload = {"id": event_id, "object": "event", "type": type_, "created": created,
                   "livemode": False, "api_version": "2024-06-20",
                   "data": {"object": {"id": object_id, "object": object_type, **fields}}}
        received = moment + timedelta(seconds=1)
        done = received + timedelta(seconds=2)
        self.buffers["billing_webhookevent"].append("\t".join([
            str(event_pk), received.isoformat(), done.isoformat(), event_id, type_, "f",
            "2024-06-20", object_id, jsonb(payload), "processed", "1", "",
            received.isoformat(), received.isoformat(), done.isoformat(),
            datetime.fromtimestamp(created, tz=UTC).isoformat()]) + "\n")
        if received >= self.outbox_from:
            self.buffers["outbox_outboxmessage"].append("\t".join([
                "billing.tasks.process_webhook_event", jsonb([event_pk]), "{}",
                received.isoformat(), received.isoformat(), "1", "", done.isoformat()]) + "\n")

    # --- audit and support -------------------------------------------------------------------

    def audit(self, actor_id, actor_email, action, resource_type, resource_id, moment,
              old=None, new=None, context=None) -> None:
        rng = self.rng
        self.buffers["accounts_auditlog"].append("\t".join([
            opt(actor_id), text(actor_email or ""), action, resource_type, str(resource_id),
            jsonb(old or {}), jsonb(new or {}), jsonb(context or {}), rng.choice(IPS),
            rng.choice(AGENTS), moment.isoformat()]) + "\n")

    def ticket(self, customer: Customer, moment: datetime) -> None:
        rng = self.rng
        ticket_id = self.ticket_id()
        subject, description = rng.choice(TICKETS)
        agent = rng.choice(self.staff) if self.staff else None
        first = moment + timedelta(minutes=rng.randrange(10, 600))
        resolved = first + timedelta(hours=rng.randrange(1, 48))
        done = resolved < self.end
        closed = resolved + timedelta(days=7)
        status = ("CLOSED" if closed < self.end else "RESOLVED") if done else "IN_PROGRESS"
        self.buffers["support_ticket"].append("\t".join([
            str(ticket_id), moment.isoformat(), (resolved if done else first).isoformat(),
            f"T{ticket_id:06d}", str(customer.user_id), opt(agent and agent[0]), subject,
            description, status, rng.choice(["LOW", "MEDIUM", "MEDIUM", "HIGH"]), "{}",
            stamp(first), stamp(resolved if done else None),
            stamp(closed if status == "CLOSED" else None),
            stamp(moment + timedelta(hours=8)), stamp(moment + timedelta(days=3))]) + "\n")
        messages = self.buffers["support_ticketmessage"]
        messages.append(f"{moment.isoformat()}\t{moment.isoformat()}\t{ticket_id}\t"
                        f"{customer.user_id}\t{description}\tf\n")
        if agent:
            messages.append(f"{first.isoformat()}\t{first.isoformat()}\t{ticket_id}\t"
                            f"{agent[0]}\t{rng.choice(REPLIES)}\tf\n")
            if rng.random() < 0.3:
                messages.append(f"{first.isoformat()}\t{first.isoformat()}\t{ticket_id}\t"
                                f"{agent[0]}\tChecked the ledger; nothing unusual.\tt\n")
        self.audit(customer.user_id, customer.email, "CREATE", "support.Ticket", ticket_id,
                   moment, new={"status": "OPEN", "subject": subject})

    def conversation(self, customer: Customer, moment: datetime) -> None:
        rng = self.rng
        conversation_id = self.conversation_id()
        question, answer, answered = rng.choice(QUESTIONS)
        later = moment + timedelta(seconds=3)
        self.buffers["support_conversation"].append(
            f"{conversation_id}\t{moment.isoformat()}\t{later.isoformat()}\t"
            f"{customer.user_id}\t{'t' if answered else 'f'}\t"
            f"{NULL if answered else later.isoformat()}\n")
        helpful = rng.choice(["t", "f", NULL]) if answered else NULL
        chat = self.buffers["support_chatmessage"]
        chat.append(f"{moment.isoformat()}\t{moment.isoformat()}\t{conversation_id}\tcustomer\t"
                    f"{question}\t{NULL}\t{NULL}\t{NULL}\n")
        chat.append(f"{later.isoformat()}\t{later.isoformat()}\t{conversation_id}\tbot\t"
                    f"{answer}\t{'t' if answered else 'f'}\t{helpful}\t"
                    f"{NULL if helpful == NULL else later.isoformat()}\n")

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
        self.cursor.execute("""
            UPDATE credits_creditbalance AS b SET balance = v.balance, updated_at = now()
              FROM unnest(%s::bigint[], %s::int[]) AS v(user_id, balance)
             WHERE b.user_id = v.user_id""",
                            [[c.user_id for c in self.customers],
                             [c.balance for c in self.customers]])


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


# --- what the history is built from ------------------------------------------------------------


def _customers(cursor, count: int) -> list[Customer]:
    from accounts.models import Role, Status, User

    users = list(User.objects.filter(role=Role.CUSTOMER, status=Status.ACTIVE)
                 .order_by("id").values_list("id", "email")[:count])
    if not users:
        raise SeedError("No active customers: run `manage.py seed_demo` first.")
    ids = [user_id for user_id, _ in users]
    cursor.execute("""
        INSERT INTO credits_creditbalance (user_id, balance, low_balance_notified, created_at,
                                           updated_at)
        SELECT id, 0, false, now(), now() FROM unnest(%s::bigint[]) AS u(id)
        ON CONFLICT (user_id) DO NOTHING""", [ids])
    # The lock order of every credits movement: the balance row first, in id order.
    cursor.execute("SELECT user_id, balance FROM credits_creditbalance WHERE user_id = ANY(%s) "
                   "ORDER BY id FOR UPDATE", [ids])
    balances = dict(cursor.fetchall())
    return [Customer(user_id, email, balances[user_id]) for user_id, email in users]


def _existing_lots(cursor, customers: list[Customer]) -> None:
    by_id = {c.user_id: c for c in customers}
    cursor.execute("""
        SELECT id, user_id, source, amount, remaining, expires_at, created_at
          FROM credits_creditgrant
         WHERE user_id = ANY(%s) AND expired_at IS NULL AND remaining > 0
         ORDER BY id FOR UPDATE""", [list(by_id)])
    for lot_id, user_id, source, amount, remaining, expires_at, created_at in cursor.fetchall():
        lot = Lot(id=lot_id, user_id=user_id, source=source, amount=amount,
                  remaining=remaining, expires_at=expires_at, created_at=created_at,
                  written=True)
        by_id[user_id].add_lot(lot)
    for customer in customers:
        if customer.balance != sum(lot.remaining for lot in customer.lots):
            raise SeedError(f"The credits of {customer.email} do not add up already "
                            "(credits.services.check_invariant): nothing written.")


def _subscriptions(customers: list[Customer], start: datetime, rng: random.Random) -> None:
    from billing.models import Subscription as Sub

    by_id = {c.user_id: c for c in customers}
    rows = (Sub.objects.filter(user_id__in=by_id, status__in=["ACTIVE", "TRIALING", "PAST_DUE"],
                               plan__credits_per_period__gt=0)
            .select_related("plan", "price").order_by("user_id", "-created_at"))
    for sub in rows:
        customer = by_id[sub.user_id]
        if customer.subscription is not None:
            continue
        price = sub.price
        customer.subscription = Subscription(
            id=sub.pk, source=sub.billing_source, plan_slug=sub.plan.slug,
            credits=sub.plan.credits_per_period, amount=price.unit_amount if price else 0,
            currency=price.currency if price else "usd")
        customer.next_renewal = start + timedelta(seconds=rng.randrange(int(
            PLAN_PERIOD.total_seconds())))


def _packs() -> list[Pack]:
    from catalog.models import Price, ProductStatus, ProductType

    prices = (Price.objects.filter(product__type=ProductType.CREDIT_PACK,
                                   product__status=ProductStatus.PUBLISHED,
                                   product__deleted_at__isnull=True,
                                   product__credits_granted__gt=0, active=True,
                                   type="ONE_TIME", unit_amount__gt=0)
              .select_related("product").order_by("product_id", "id"))
    packs = {}
    for price in prices:
        packs.setdefault(price.product_id, Pack(
            product_id=price.product_id, price_id=price.pk, name=price.product.name,
            credits=price.product.credits_granted, amount=price.unit_amount,
            currency=price.currency))
    if not packs:
        raise SeedError("No published credit pack with a price: run `manage.py seed_demo` "
                        "(or seed_catalog) first.")
    return list(packs.values())


def _staff() -> list[tuple[int, str]]:
    from accounts.models import STAFF_ROLES, Status, User

    return list(User.objects.filter(role__in=STAFF_ROLES, status=Status.ACTIVE)
                .order_by("id").values_list("id", "email"))


def _weights(count: int, rng: random.Random) -> list[float]:
    """The first customer takes HEAVY_SHARE of the events (when there are others); the
    others share the rest unevenly, as real usage is."""
    if count == 1:
        return [1.0]
    others = [rng.paretovariate(1.5) for _ in range(count - 1)]
    scale = (1 - HEAVY_SHARE) / sum(others)
    return [HEAVY_SHARE] + [weight * scale for weight in others]


def seed_history(*, rows: int, customers: int = DEFAULT_CUSTOMERS, days: int = DEFAULT_DAYS,
                 seed: int = SEED, end: datetime | None = None,
                 progress: Callable[[int], None] | None = None) -> Stats:
    """Write ``rows`` ledger rows (and the rest of the history around them) for the first
    ``customers`` customers by id, dated over the ``days`` days before ``end`` (now).
    ``progress`` is called with the number of ledger rows each round wrote. Raises SeedError
    when the database lacks customers, feature costs or credit packs (nothing written)."""
    from credits.models import FeatureCost

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
    packs, staff = _packs(), _staff()
    start = end - timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        # Each round is whole, so its constraints are checked as it is written, while the
        # next round is simulated, rather than all at the commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        _check_columns(cursor)
        picked = _customers(cursor, customers)
        _existing_lots(cursor, picked)
        _subscriptions(picked, start, rng)
        writer = Writer(connection.connection, progress or (lambda n: None))
        try:
            history = History(cursor=cursor, writer=writer, rows=rows, customers=picked,
                              weights=_weights(len(picked), rng), operations=operations,
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
