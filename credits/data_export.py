"""The "credits" section of a customer's data export: the balance, the lots and the whole
ledger, read a chunk of rows at a time (accounts.data_export.rows), however long it is."""

from django.db.models import BooleanField, ExpressionWrapper, Q

from accounts.data_export import rows
from credits.models import CreditBalance, CreditGrant, CreditTransaction


def _lot(lot: CreditGrant) -> dict:
    return {
        "id": lot.pk,
        "source": lot.source,
        "amount": lot.amount,
        "remaining": lot.remaining,
        "expires_at": lot.expires_at,
        "expired_at": lot.expired_at,
        "source_ref": lot.source_ref,
        "created_at": lot.created_at,
    }


# A ledger row as exported, computed by PostgreSQL: plain values, no model instances, for
# what can be millions of rows.
LEDGER_ROW = {"by_staff": ExpressionWrapper(Q(actor__isnull=False), output_field=BooleanField())}
LEDGER_FIELDS = (
    "id",
    "kind",
    "operation",
    "quantity",
    "amount",
    "balance_after",
    "details",
    "idempotency_key",
    "refund_of_id",
    "by_staff",
    "created_at",
)


def credits_section(user) -> dict:
    balance = CreditBalance.objects.filter(user=user).values_list("balance", flat=True).first()
    return {
        "balance": balance or 0,
        "lots": rows(CreditGrant.objects.filter(user=user).order_by("id"), _lot),
        # Along credits_txn_user_time_idx, oldest first.
        "ledger": rows(
            CreditTransaction.objects.filter(user=user)
            .annotate(**LEDGER_ROW)
            .order_by("created_at", "id")
            .values(*LEDGER_FIELDS)
        ),
    }
