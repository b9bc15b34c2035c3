"""Credits' staff actions that may need a second person, as the staff policy carries them out
(``accounts.authority.perform``; the support desk's approval requests run them)."""

from accounts import authority
from accounts.models import User
from credits.corrections import adjust_credits


def adjust_credits_executor(*, payload: dict, actor, approval) -> dict:
    """Staff credit correction from a ticket: positive grants, negative removes. The approval
    id is the idempotency key, so a retried execution never adjusts twice."""
    row = adjust_credits(
        user=User.objects.get(pk=payload["user_id"]),
        amount=int(payload["amount"]),
        reason=payload.get("reason") or f"Support approval {approval.pk}",
        actor=actor,
        idempotency_key=f"support-approval-{approval.pk}",
    )
    return {"credit_transaction_id": row.pk, "balance_after": row.balance_after}


def register() -> None:
    authority.register_executor("credits.adjust", adjust_credits_executor)
