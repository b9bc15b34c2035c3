"""The staff dashboard at /admin/analytics/, its drill-down and CSV export."""

from datetime import timedelta

import pytest

from accounts.factories import UserFactory
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from analytics.tests.builders import DAY, at, cancel, payment, price, subscribe
from core.models import AuditLog

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/analytics/"
DRILL = "/admin/analytics/dashboard/mrr/"
EXPORT = "/admin/analytics/dashboard/export/"


@pytest.fixture
def history():
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    subscribe(alice, price_obj=price(2900), created=at(DAY - timedelta(days=40)))
    subscribe(bob, price_obj=price(29000, "year"), created=at(DAY - timedelta(days=10)))
    cancel(
        subscribe(price_obj=price(5000), created=at(DAY - timedelta(days=40))),
        at(DAY - timedelta(days=2)),
    )
    payment(alice, 2900, when=at(DAY, 10))
    for n in range(45):
        rollup_day(DAY - timedelta(days=n))


@pytest.fixture
def staff_client(client, finance_user):
    # Revenue is for the roles the staff policy lets see it: FINANCE (and ADMIN).
    client.force_login(finance_user)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def test_dashboard_renders_tiles_charts_definitions_and_chart_js_from_static(staff_client, history):
    response = staff_client.get(
        DASHBOARD,
        {
            "start": (DAY - timedelta(days=30)).isoformat(),
            "end": DAY.isoformat(),
            "currency": "usd",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Analytics dashboard" in html
    assert "/static/analytics/vendor/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert 'id="chart-mrr"' in html and 'id="chart-credits"' in html
    assert "Monthly recurring revenue at the end of the day" in html  # a definition
    assert 'id="analytics-data"' in html
    # MRR tile: 5316.67 cents now, 7900.00 thirty days before (alice + the churned 5000).
    assert "53.17 USD" in html and "79.00 USD" in html
    tiles = {t["key"]: t for t in response.context["dash"]["tiles"]}
    assert str(tiles["mrr"]["now"]) == "5316.670000"
    assert tiles["mrr"]["change"] == -32.7


def test_dashboard_empty_state_without_rollups(staff_client):
    response = staff_client.get(DASHBOARD)
    assert response.status_code == 200
    assert "No analytics yet" in response.content.decode()


def test_dashboard_bad_range_shows_a_form_error_and_the_default_range(staff_client, history):
    response = staff_client.get(DASHBOARD, {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "must be on or after" in response.content.decode()
    assert response.context["dash"]["end"] == DAY


def test_dashboard_is_linked_from_the_admin_index(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert "/admin/analytics/dashboard/" in html
    response = staff_client.get("/admin/analytics/dashboard/?currency=usd")
    assert response.status_code == 302
    assert response["Location"] == "/admin/analytics/?currency=usd"


def test_customers_are_sent_to_the_admin_login(customer_client, history):
    for url in (
        DASHBOARD,
        f"{DRILL}?day={DAY}&currency=usd",
        f"{EXPORT}?metric=mrr&start={DAY}&end={DAY}",
    ):
        response = customer_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_drilldown_lists_the_subscriptions_behind_a_days_mrr(staff_client, history):
    response = staff_client.get(DRILL, {"day": DAY.isoformat(), "currency": "usd"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "alice@example.com" in html and "bob@example.com" in html
    rows = [
        (r["subscription"].user.email, str(r["monthly"]))
        for r in response.context["page"].object_list
    ]
    assert rows == [("alice@example.com", "2900.00"), ("bob@example.com", "2416.67")]
    assert str(response.context["total"]) == "5316.67"


def test_drilldown_is_a_console_page_with_its_sidebar(staff_client, history):
    response = staff_client.get(DRILL, {"day": DAY.isoformat(), "currency": "usd"})
    assert response.status_code == 200
    assert response.context["available_apps"]  # the admin site's context, as every page
    assert 'id="nav-sidebar-apps"' in response.content.decode()


def test_drilldown_with_a_bad_day_goes_back_with_a_message(staff_client):
    response = staff_client.get(DRILL, {"day": "yesterday"}, follow=True)
    assert response.redirect_chain[-1][0] == DASHBOARD
    assert "YYYY-MM-DD" in response.content.decode()


def test_csv_export_of_a_metric_range(admin_client_, history):
    response = admin_client_.get(
        EXPORT,
        {
            "metric": "mrr",
            "start": (DAY - timedelta(days=1)).isoformat(),
            "end": DAY.isoformat(),
            "dimension": "usd",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "date,metric,dimension,value,definition_version,computed_at,metadata"
    assert [line.split(",")[:4] for line in lines[1:]] == [
        [(DAY - timedelta(days=1)).isoformat(), "mrr", "usd", "5316.670000"],
        [DAY.isoformat(), "mrr", "usd", "5316.670000"],
    ]

    export = AuditLog.objects.get(action="EXPORT", resource_type="analytics.DailyMetric")
    assert export.resource_id == "mrr" and export.new_values["dimension"] == "usd"


def test_csv_export_refuses_a_bad_range(admin_client_, history):
    response = admin_client_.get(
        EXPORT, {"metric": "mrr", "start": "2026-03-10", "end": "2026-03-01"}, follow=True
    )
    assert "must be on or after" in response.content.decode()
    assert DailyMetric.objects.filter(metric="mrr").count() == 41  # days with subscriptions


def test_currency_selector_lists_each_currency_once_and_switches_the_money_charts(
    staff_client, history
):
    payment(UserFactory(), 1500, when=at(DAY, 9), currency="eur")
    rollup_day(DAY, ["revenue"])
    response = staff_client.get(DASHBOARD, {"currency": "eur"})
    html = response.content.decode()
    assert html.count('<option value="usd"') == 1 and html.count('<option value="eur"') == 1
    charts = {c["spec"].key: c["data"] for c in response.context["dash"]["charts"]}
    revenue = {d["metric"]: d for d in charts["revenue"]["datasets"]}
    assert revenue["gross_revenue"]["dimension"] == "eur"
    assert revenue["gross_revenue"]["data"][-1] == 1500.0
    assert charts["mrr"]["empty"]  # no eur subscriptions
    # Unbound, the range inputs show the default range ending on the latest rolled-up day.
    assert f'value="{DAY.isoformat()}"' in staff_client.get(DASHBOARD).content.decode()


def test_drilldown_empty_state_for_a_currency_without_subscriptions(staff_client, history):
    response = staff_client.get(DRILL, {"day": DAY.isoformat(), "currency": "eur"})
    assert response.status_code == 200
    assert "No paying subscription in this currency" in response.content.decode()
    assert response.context["count"] == 0


def test_rollups_are_read_only_in_the_admin(staff_client, history):
    assert staff_client.get("/admin/analytics/dailymetric/").status_code == 200
    assert staff_client.get("/admin/analytics/dailymetric/add/").status_code == 403
    row = DailyMetric.objects.filter(metric="mrr").first()
    response = staff_client.post(f"/admin/analytics/dailymetric/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert DailyMetric.objects.filter(pk=row.pk).exists()


def test_support_sees_no_revenue_anywhere(client, support_agent, history):
    """The staff policy keeps revenue from SUPPORT: no dashboard, drill-down, export, rollup
    list or admin-index link, and the metrics API answers 403 by the same rule."""
    client.force_login(support_agent)
    for url in (
        DASHBOARD,
        f"{DRILL}?day={DAY}&currency=usd",
        f"{EXPORT}?metric=mrr&start={DAY}&end={DAY}",
        "/admin/analytics/dailymetric/",
    ):
        assert client.get(url).status_code in (403, 404), url
    index = client.get("/admin/").content.decode()
    assert "/admin/analytics/" not in index
    api = client.get(
        "/api/v1/analytics/metrics/", {"metric": "mrr", "from": str(DAY), "to": str(DAY)}
    )
    assert api.status_code == 403
