"""``credits.consumed``: the credit ledger's consumption, one event per customer per batch.

Every few minutes a task reads the CONSUME rows written since the last batch (by ledger id,
up to ``SETTLE`` ago so a transaction still committing is not skipped) and emits, for each
customer, what they consumed by operation. The watermark moves in the same transaction as
the events, so a batch is reported once. The first batch starts from the ledger's end: no
history is replayed.

Credits decides what to report and records it through webhooks_out's event API (``emit``);
the batch's watermark row is webhooks_out's."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from credits.models import CreditTransaction
from webhooks_out import payloads
from webhooks_out.events import emit
from webhooks_out.models import ConsumptionWatermark

SETTLE = timedelta(seconds=60)
BATCH_ROWS = 50_000


def _operation_totals() -> defaultdict[str, dict[str, int]]:
    return defaultdict(lambda: {"quantity": 0, "credits": 0})


@dataclass
class _Consumption:
    """One customer's consumption in a batch: its first and last row's time, the credits
    and, per operation, the quantity and credits."""

    first: datetime
    last: datetime
    credits: int = 0
    operations: defaultdict[str, dict[str, int]] = field(default_factory=_operation_totals)


def batch(*, limit: int = BATCH_ROWS) -> int:
    """Emit the next batch; returns how many customers' events were recorded."""
    now = timezone.now()
    with transaction.atomic():
        mark = ConsumptionWatermark.objects.select_for_update().filter(pk=1).first()
        if mark is None:
            start = CreditTransaction.objects.aggregate(last=Max("id"))["last"] or 0
            ConsumptionWatermark.objects.create(pk=1, last_transaction_id=start)
            return 0
        rows = list(
            CreditTransaction.objects.filter(
                id__gt=mark.last_transaction_id, kind="CONSUME", created_at__lt=now - SETTLE
            )
            .order_by("id")
            .values_list("id", "user_id", "operation", "quantity", "amount", "created_at")[:limit]
        )
        if not rows:
            return 0
        per_user: dict[int, _Consumption] = {}
        for _pk, user_id, operation, quantity, amount, created_at in rows:
            entry = per_user.get(user_id)
            if entry is None:
                entry = per_user[user_id] = _Consumption(first=created_at, last=created_at)
            line = entry.operations[operation or "unspecified"]
            line["quantity"] += quantity or 0
            line["credits"] += -amount
            entry.credits += -amount
            entry.last = created_at
        first_id, last_id = rows[0][0], rows[-1][0]
        emitted = 0
        for user_id in sorted(per_user):
            entry = per_user[user_id]
            event = emit(
                "credits.consumed",
                {
                    "object": "credits_consumption",
                    "customer": payloads.customer_ref(user_id),
                    "credits": entry.credits,
                    "operations": {name: dict(line) for name, line in entry.operations.items()},
                    "from": int(entry.first.timestamp()),
                    "to": int(entry.last.timestamp()),
                    "ledger_rows": {"after": mark.last_transaction_id, "through": last_id},
                },
                dedupe_key=f"credits.consumed:{user_id}:{first_id}-{last_id}",
            )
            emitted += event is not None
        mark.last_transaction_id = last_id
        mark.save(update_fields=["last_transaction_id", "updated_at"])
    return emitted
