"""The console reads as people speak: rows by name, plans by name, amounts with their
currency, dates in the staff member's own time zone, churn's fall painted as good news."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory
from analytics.dashboard import kpi_tiles
from analytics.models import DailyMetric
from billing.models import Invoice
from console.models import StaffPreference
from console.tests.world import customer_with_history, form_with_button
from core import audit
from core.models import AuditAction

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_audit_log_names_rows_and_links_them():
    world = customer_with_history()
    staff = FinanceFactory()
    audit.record(actor=staff, action=AuditAction.UPDATE, resource=world.invoice)
    audit.record(actor=staff, action=AuditAction.UPDATE, resource=world.subscription)
    html = _client(AdminFactory()).get(reverse("admin:core_auditlog_changelist")).content.decode()
    invoice_url = reverse("admin:billing_invoice_change", args=[world.invoice.pk])
    assert f'<a href="{invoice_url}">Invoice {world.invoice.number}</a>' in html
    assert "Subscription dana@example.com on Growth (Active)" in html
    assert f"billing.Invoice {world.invoice.pk}" not in html


def test_the_audit_log_links_a_customer_acting_to_their_page():
    world = customer_with_history()
    audit.record(actor=world.user, action=AuditAction.UPDATE, resource=world.user)
    html = _client(AdminFactory()).get(reverse("admin:core_auditlog_changelist")).content.decode()
    page = reverse("admin:console_customer_overview", args=[world.user.pk])
    assert f'<a href="{page}">dana@example.com</a>' in html


def test_subscription_titles_name_the_plan():
    world = customer_with_history()
    assert str(world.subscription) == "dana@example.com on Growth (Active)"
    html = (
        _client(AdminFactory())
        .get(reverse("admin:billing_subscription_change", args=[world.subscription.pk]))
        .content.decode()
    )
    assert "dana@example.com on Growth (Active)" in html


def test_lists_show_amounts_with_their_currency():
    world = customer_with_history()
    client = _client(FinanceFactory())
    assert "$79.00" in client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert "$40.00" in client.get(reverse("admin:billing_payment_changelist")).content.decode()
    assert "$40.00" in client.get(reverse("admin:billing_order_changelist")).content.decode()
    assert world.invoice.number


def _invoice_at(when):
    world = customer_with_history()
    Invoice.objects.filter(pk=world.invoice.pk).update(created_at=when)
    return world.invoice


def test_dates_follow_the_staff_members_time_zone():
    _invoice_at(datetime(2026, 3, 15, 23, 30, tzinfo=UTC))
    staff = FinanceFactory()
    client = _client(staff)
    listing = reverse("admin:billing_invoice_changelist")
    # No preference: the business's zone (UTC here).
    assert "15, 2026, 11:30 p.m." in client.get(listing).content.decode()
    page = client.get(reverse("admin:console_preferences"))
    form = form_with_button(page.content.decode(), "Save")
    assert form is not None and form["action"] == reverse("admin:console_preferences")
    done = client.post(form["action"], {**form["fields"], "timezone": "Asia/Tokyo"}, follow=True)
    assert "Dates in the console are now shown in Asia/Tokyo time." in done.content.decode()
    assert StaffPreference.objects.get(user=staff).timezone == "Asia/Tokyo"
    assert "16, 2026, 8:30 a.m." in client.get(listing).content.decode()
    # Another staff member still reads the business's zone.
    other = _client(StaffFactory()).get(listing).content.decode()
    assert "15, 2026, 11:30 p.m." in other


def test_an_unknown_time_zone_is_refused_next_to_the_field():
    staff = StaffFactory()
    client = _client(staff)
    response = client.post(reverse("admin:console_preferences"), {"timezone": "Mars/Base"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "&#x27;Mars/Base&#x27; is not a time zone (e.g. Europe/Paris)." in html
    assert '<div class="field field-invalid">' in html
    assert '<div class="errorlist" role="alert">' in html
    assert not StaffPreference.objects.filter(user=staff).exists()


def _metrics(latest: date, *, churn_before: int, churn_now: int):

    rows = []
    for back in range(60):
        day = latest - timedelta(days=back)
        churned = churn_now if back < 30 else churn_before
        for metric, dimension, value in (
            ("churned_subscriptions", "", churned),
            ("new_subscriptions", "", 2),
            ("active_subscriptions_at_start", "", 100),
            ("mrr", "usd", 100_000 + (60 - back) * 100),
            ("active_subscriptions", "", 100),
        ):
            rows.append(
                DailyMetric(
                    date=day,
                    metric=metric,
                    dimension=dimension,
                    value=Decimal(value),
                    definition_version=1,
                )
            )
    DailyMetric.objects.bulk_create(rows)


@pytest.mark.parametrize("before, now, painted", [(4, 1, "good"), (1, 4, "bad")])
def test_the_dashboard_paints_a_fall_in_churn_as_good_news(before, now, painted):

    latest = date(2026, 11, 30)
    _metrics(latest, churn_before=before, churn_now=now)
    tiles = {tile["key"]: tile for tile in kpi_tiles(latest, "usd")}
    assert tiles["subscriber_churn_rate"]["good"] is (painted == "good")
    assert tiles["mrr"]["change"] > 0 and tiles["mrr"]["good"] is True  # a rise, good there
    html = (
        _client(AdminFactory())
        .get("/admin/analytics/", {"start": "2026-10-01", "end": "2026-11-30"})
        .content.decode()
    )
    tile = html[html.index("Subscriber churn (30 days)") :]
    tile = tile[: tile.index("</li>")]
    assert f'class="tile-change {"down" if painted == "good" else "up"} {painted}"' in tile
