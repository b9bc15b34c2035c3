"""GET /api/v1/analytics/metrics/: ADMIN only, validated, bounded."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.factories import UserFactory
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from analytics.tests.builders import DAY, at, payment, price, subscribe

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/metrics/"


@pytest.fixture
def rolled_up():
    buyer = UserFactory()
    subscribe(buyer, price_obj=price(2900), created=at(DAY - timedelta(days=5)))
    subscribe(price_obj=price(29000, "year"), created=at(DAY - timedelta(days=5)))
    payment(buyer, 2900, when=at(DAY, 10))
    payment(buyer, 1500, when=at(DAY, 11), currency="eur")
    for n in range(3):
        rollup_day(DAY - timedelta(days=n))


def test_admin_reads_a_metric_over_a_range(admin_api, rolled_up):
    response = admin_api.get(
        URL, {"metric": "mrr", "from": (DAY - timedelta(days=2)).isoformat(), "to": DAY.isoformat()}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["metric"] == "mrr" and body["unit"] == "money" and body["version"] == 3
    assert "monthly-normalised" in body["definition"] or "normalised" in body["definition"]
    assert body["count"] == 3
    assert [(r["date"], r["dimension"], r["value"]) for r in body["results"]] == [
        ((DAY - timedelta(days=2)).isoformat(), "usd", "5316.670000"),
        ((DAY - timedelta(days=1)).isoformat(), "usd", "5316.670000"),
        (DAY.isoformat(), "usd", "5316.670000"),
    ]
    assert body["results"][0]["metadata"] == {"subscriptions": 2, "paying_customers": 2}


def test_dimension_filter_selects_one_currency(admin_api, rolled_up):
    response = admin_api.get(
        URL,
        {
            "metric": "gross_revenue",
            "from": DAY.isoformat(),
            "to": DAY.isoformat(),
            "dimension": "eur",
        },
    )
    assert response.status_code == 200
    assert [(r["dimension"], Decimal(r["value"])) for r in response.json()["results"]] == [
        ("eur", Decimal(1500))
    ]


def test_an_empty_dimension_selects_the_totals(admin_api, rolled_up):
    response = admin_api.get(
        URL,
        {
            "metric": "active_subscriptions",
            "from": DAY.isoformat(),
            "to": DAY.isoformat(),
            "dimension": "",
        },
    )
    assert [(r["dimension"], r["value"]) for r in response.json()["results"]] == [("", "2.000000")]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"metric": "nope", "from": "2026-03-01", "to": "2026-03-02"}, "unknown_metric"),
        ({"from": "2026-03-01", "to": "2026-03-02"}, "unknown_metric"),
        ({"metric": "mrr", "from": "2026-02-30", "to": "2026-03-02"}, "invalid_date"),
        ({"metric": "mrr", "to": "2026-03-02"}, "missing_date"),
        ({"metric": "mrr", "from": "2026-03-02", "to": "2026-03-01"}, "invalid_date_range"),
        ({"metric": "mrr", "from": "2025-01-01", "to": "2026-01-02"}, "range_too_long"),
    ],
)
def test_bad_queries_answer_400_with_a_stable_code(admin_api, params, code):
    response = admin_api.get(URL, params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]


def test_a_full_year_of_366_days_is_allowed(admin_api):
    response = admin_api.get(URL, {"metric": "mrr", "from": "2024-01-01", "to": "2024-12-31"})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "client_fixture, status, code",
    [
        ("api_client", 401, "not_authenticated"),
        ("customer_api", 403, "permission_denied"),
        ("staff_api", 403, "permission_denied"),  # SUPPORT: staff, but not ADMIN
    ],
)
def test_only_admins_may_read_analytics(request, client_fixture, status, code, rolled_up):
    client = request.getfixturevalue(client_fixture)
    response = client.get(URL, {"metric": "mrr", "from": DAY.isoformat(), "to": DAY.isoformat()})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "results" not in response.json()
    assert DailyMetric.objects.filter(date=DAY).exists()
