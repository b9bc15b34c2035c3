"""What History gives the row writers mixed into it, declared for the type checker: its
random generator, buffers, inputs and id sources, and its ``need``, ``grant`` and ``audit``."""

import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analytics.seed_history.inputs import Customer, Pack
from analytics.seed_history.rows import Ids


class HistoryHost:
    """A base of the row writers mixed into History; no behaviour of its own."""

    # What History provides (declared so each use in the row writers is checked against it).
    rng: random.Random
    buffers: dict[str, list[str]]
    packs: list[Pack]
    staff: list[tuple[Any, ...]]
    outbox_from: datetime
    order_id: Ids
    item_id: Ids
    invoice_id: Ids
    event_id: Ids
    order_number: Ids
    invoice_number: Ids

    if TYPE_CHECKING:
        # Declared for the checker only: at run time History's and SupportRows' own
        # definitions are the ones called (a body here would shadow SupportRows.audit).

        def need(self, rows: int) -> None: ...

        def grant(
            self,
            customer: Customer,
            *,
            source: str,
            amount: int,
            moment: datetime,
            expires_at: Any = None,
            source_ref: str = "",
            key: str = "",
            actor: Any = None,
            kind: str = "GRANT",
            details: dict[str, Any] | None = None,
        ) -> int: ...

        def audit(
            self,
            actor_id: Any,
            actor_email: Any,
            action: Any,
            resource_type: Any,
            resource_id: Any,
            moment: Any,
            old: Any = None,
            new: Any = None,
            context: Any = None,
        ) -> None: ...
