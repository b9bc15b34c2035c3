"""How seed_history's rows reach PostgreSQL: COPY's text format, the columns written per
table, ids taken from the tables' sequences, and the thread that writes each round."""

import json
import queue
import threading
from collections.abc import Callable
from datetime import datetime


class SeedError(Exception):
    """The database lacks what the history needs (no customers, no feature costs, ...)."""


NULL = "\\N"


def text(value: str) -> str:
    """A string as COPY's text format needs it."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


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
    "hosted_invoice_url billing_reason finalized_at refunded_amount",
    "billing_payment": "created_at updated_at user_id order_id invoice_id provider "
    "provider_id amount currency status method_type method_brand "
    "method_last4 paid_at recorded_by_id metadata stripe_payment_intent_id "
    "stripe_charge_id",
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
        self.cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)",
            [self.sequence, count - len(self.pool) + self.batch],
        )
        self.pool = [value for (value,) in self.cursor.fetchall()][::-1] + self.pool


def table_ids(cursor, table: str, batch: int) -> Ids:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return Ids(cursor, cursor.fetchone()[0], batch)


def check_columns(cursor) -> None:
    for table, names in COLUMNS.items():
        cursor.execute(
            """
            SELECT column_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = %s AND is_nullable = 'NO'
               AND column_default IS NULL AND is_generated = 'NEVER' AND is_identity = 'NO'
            """,
            [table],
        )
        missing = sorted({name for (name,) in cursor.fetchall()} - set(names.split()))
        if missing:
            raise SeedError(
                f"{table} has required columns seed_history does not write: {', '.join(missing)}"
            )


class Writer:
    """Writes each round's rows in a thread of its own, on the same connection (psycopg
    serialises its use), so PostgreSQL inserts and checks one round while the next one is
    simulated. At most one round waits: a slower server holds the simulation back."""

    def __init__(self, raw_connection, progress: Callable[[int], None]):
        self.connection, self.progress = raw_connection, progress
        self.rounds: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="seed_history-writer", daemon=True)
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
                cursor.execute(
                    """
                    UPDATE credits_creditgrant AS g
                       SET remaining = v.remaining, expired_at = v.expired_at,
                           updated_at = now()
                      FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[])
                           AS v(id, remaining, expired_at)
                     WHERE g.id = v.id""",
                    [list(column) for column in zip(*lot_updates, strict=True)],
                )
        self.progress(ledger_rows)
