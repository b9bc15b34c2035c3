"""The customer's credits page: balance, lots, runway, usage chart, ledger, costs."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.system_config import get_config
from credits import selectors
from credits.charts import usage_chart

USAGE_RANGES = (30, 90)
LEDGER_PAGE_SIZE = 20


@login_required
def credits_page(request):
    days = request.GET.get("range", "30")
    days = int(days) if days in {str(value) for value in USAGE_RANGES} else USAGE_RANGES[0]
    summary = selectors.credit_summary(user=request.user)
    # By keyset (?before= / ?after=): the same queries on the first page as on the last,
    # however long the history.
    ledger = selectors.ledger_page(
        user=request.user,
        size=LEDGER_PAGE_SIZE,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
    )
    usage = selectors.usage_by_day(user=request.user, days=days)
    threshold = get_config("low_balance_threshold")
    usage_rows = [
        {
            "day": day,
            "total": usage["totals"][i],
            "values": [usage["series"][op][i] for op in usage["operations"]],
        }
        for i, day in enumerate(usage["days"])
        if usage["totals"][i]
    ]
    return render(
        request,
        "credits/credits.html",
        {
            **summary,
            # The banner also comes from credits.context_processors.low_balance on other pages.
            "credits_low_balance": summary["balance"] < threshold,
            "credits_balance": summary["balance"],
            "credits_low_balance_threshold": threshold,
            "ledger": ledger,
            "costs": selectors.costs_for_user(user=request.user),
            "usage": usage,
            "chart": usage_chart(usage),
            "usage_rows": usage_rows,
            "days": days,
            "usage_ranges": USAGE_RANGES,
        },
    )
