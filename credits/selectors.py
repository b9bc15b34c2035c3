"""Reads for the credits pages and API: costs, the balance summary, usage, the ledger."""

import logging
from datetime import date, timedelta

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from credits.errors import UnknownOperation
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    FeatureCost,
    InvariantCheck,
    TransactionKind,
)

logger = logging.getLogger(__name__)

EXPIRING_SOON_DAYS = 7
RUNWAY_WINDOW_DAYS = 30


def _plan_overrides(*, user) -> dict[str, int]:
    """The user's plan's per-operation costs; overrides that are not whole numbers ≥ 1 are
    ignored (logged), so a typo in a plan's JSON can never make an operation free."""
    from billing.selectors import plan_for_user  # billing depends on credits, not the reverse

    plan = plan_for_user(user=user)
    raw = getattr(plan, "feature_cost_overrides", None) or {}
    overrides = {}
    for operation, cost in raw.items():
        if isinstance(cost, int) and not isinstance(cost, bool) and cost >= 1:
            overrides[operation] = cost
        else:
            logger.warning("Plan %s: ignoring cost override %r=%r (must be an integer >= 1)",
                           getattr(plan, "pk", None), operation, cost)
    return overrides


def cost_for(*, user, operation: str) -> int:
    """Credits one unit of ``operation`` costs this user. Raises UnknownOperation when the
    operation does not exist or is inactive (a plan override never revives it)."""
    base = (FeatureCost.objects.filter(operation=operation, active=True)
            .values_list("cost", flat=True).first())
    if base is None:
        raise UnknownOperation(f"Unknown or inactive operation {operation!r}.")
    return _plan_overrides(user=user).get(operation, base)


def costs_for_user(*, user) -> list[dict]:
    """Every active operation with this user's cost, the list price and whether it differs."""
    overrides = _plan_overrides(user=user)
    rows = []
    for feature in FeatureCost.objects.filter(active=True).order_by("operation"):
        cost = overrides.get(feature.operation, feature.cost)
        rows.append({
            "operation": feature.operation, "name": feature.name,
            "description": feature.description, "tags": feature.tags,
            "cost": cost, "base_cost": feature.cost, "overridden": cost != feature.cost,
        })
    return rows


def balance_of(*, user) -> int:
    return (CreditBalance.objects.filter(user=user).values_list("balance", flat=True).first()
            or 0)


def live_lots(*, user) -> QuerySet[CreditGrant]:
    """Lots that still count, in the order consumption draws from them."""
    return (CreditGrant.objects.filter(user=user, expired_at__isnull=True, has_credits=True)
            .order_by(F("expires_at").asc(nulls_last=True), "id"))


def consumed_since(*, user, since) -> int:
    total = (CreditTransaction.objects
             .filter(user=user, kind=TransactionKind.CONSUME, created_at__gte=since)
             .aggregate(total=Sum("amount"))["total"])
    return -(total or 0)


def runway_days(*, user, balance: int, now=None) -> float | None:
    """Days the balance lasts at the last 30 days' average daily consumption (None: no use)."""
    now = now or timezone.now()
    used = consumed_since(user=user, since=now - timedelta(days=RUNWAY_WINDOW_DAYS))
    if used <= 0:
        return None
    return round(balance / (used / RUNWAY_WINDOW_DAYS), 1)


def credit_summary(*, user, now=None) -> dict:
    """What the credits page and ``GET /api/v1/credits/`` show at the top."""
    now = now or timezone.now()
    balance = balance_of(user=user)
    lots = list(live_lots(user=user))
    soon = now + timedelta(days=EXPIRING_SOON_DAYS)
    return {
        "balance": balance,
        "lots": lots,
        "expiring_soon": [lot for lot in lots if lot.expires_at and lot.expires_at <= soon],
        "runway_days": runway_days(user=user, balance=balance, now=now),
    }


def transactions_for(*, user, kind: str = "", operation: str = "") -> QuerySet:
    """The user's ledger, newest first, optionally narrowed by kind and operation."""
    rows = CreditTransaction.objects.filter(user=user)
    if kind:
        rows = rows.filter(kind=kind)
    if operation:
        rows = rows.filter(operation=operation)
    return rows.order_by("-created_at", "-id")


def usage_by_day(*, user, days: int, now=None) -> dict:
    """Credits consumed per day and operation over the last ``days`` days (today included).

    Returns ``{"days": [date, ...], "operations": [key, ...], "series": {key: [int per day]},
    "totals": [int per day], "max": int}``; refunds of a consumption are netted out of the
    day the refund happened.
    """
    now = now or timezone.now()
    first: date = timezone.localdate(now) - timedelta(days=days - 1)
    rows = (CreditTransaction.objects
            .filter(Q(kind=TransactionKind.CONSUME) | Q(kind=TransactionKind.REFUND,
                                                        refund_of__isnull=False),
                    user=user, created_at__date__gte=first)
            .annotate(day=TruncDate("created_at"))
            .values("day", "operation")
            .annotate(total=Sum("amount"))
            .order_by("day", "operation"))
    day_list = [first + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(day_list)}
    series: dict[str, list[int]] = {}
    for row in rows:
        values = series.setdefault(row["operation"] or "OTHER", [0] * days)
        values[index[row["day"]]] += -row["total"]
    totals = [sum(values[i] for values in series.values()) for i in range(days)]
    return {"days": day_list, "operations": sorted(series), "series": series,
            "totals": totals, "max": max(totals, default=0)}


def last_invariant_check() -> InvariantCheck | None:
    """The latest recorded run of the ledger check, or None if it never ran."""
    return InvariantCheck.objects.order_by("-created_at", "-id").first()
