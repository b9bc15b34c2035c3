"""seed_analytics: a year of history, rolled up, idempotent, and the dashboard shows it."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import DailyMetric
from billing.models import Payment, Subscription, SubscriptionEvent
from catalog.models import Price
from credits.invariant import check_invariant
from credits.models import CreditTransaction
from support.models import Ticket

pytestmark = pytest.mark.django_db


def test_seed_creates_a_year_of_history_once_and_the_dashboard_shows_it(client, admin_user):
    call_command("seed_catalog", stdout=StringIO())
    call_command("seed_credits", stdout=StringIO())
    out = StringIO()
    call_command("seed_analytics", "--no-rollup", stdout=out)
    assert "customers" in out.getvalue()
    counts = (
        Subscription.objects.count(),
        Payment.objects.count(),
        CreditTransaction.objects.count(),
        Ticket.objects.count(),
    )
    assert all(counts), counts
    assert check_invariant() == []

    call_command("seed_analytics", stdout=out)  # the marker: nothing added, no rollup
    assert "already present" in out.getvalue()
    assert (
        Subscription.objects.count(),
        Payment.objects.count(),
        CreditTransaction.objects.count(),
        Ticket.objects.count(),
    ) == counts

    call_command(
        "rollup_metrics",
        "--from",
        str(_days_ago(60)),
        "--to",
        str(_days_ago(1)),
        "--no-progress",
        stdout=StringIO(),
    )
    assert DailyMetric.objects.filter(metric="mrr", value__gt=0).count() == 60
    assert DailyMetric.objects.filter(metric="credits_consumed").exclude(dimension="").exists()
    # In-place plan changes (PLAN_CHANGED events) move MRR both ways within the range.
    changes = SubscriptionEvent.objects.filter(
        type=SubscriptionEvent.Type.PLAN_CHANGED, subscription__metadata__demo="analytics"
    )
    assert f"({changes.count()} plan changes)" in out.getvalue() and changes.exists()
    for event in changes.select_related("subscription__price"):
        before = Price.objects.get(pk=event.payload["price"])  # billing's payload shape
        assert before != event.subscription.price
        assert before.interval == event.subscription.price.interval
    for movement in ("mrr_expansion", "mrr_contraction"):
        assert DailyMetric.objects.filter(metric=movement, value__gt=0).exists(), movement

    client.force_login(admin_user)
    response = client.get("/admin/analytics/")
    assert response.status_code == 200
    assert all(
        not chart["data"]["empty"]
        for chart in response.context["dash"]["charts"]
        if chart["spec"].key in ("mrr", "revenue", "credits", "tickets")
    )


def _days_ago(n):
    return timezone.now().date() - timedelta(days=n)
