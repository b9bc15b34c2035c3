"""The staff console in a browser, as each role uses it: finding a customer and their page,
exporting the books, the navigation each role sees, a money list at 1280 px and the
analytics dashboard. Every page visited is checked for console errors, failed requests and
horizontal overflow; the screenshots land in artifacts/e2e/<test>/."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, AdminFactory, FinanceFactory, StaffFactory
from analytics.models import DailyMetric
from billing.models import Invoice
from console.tests.world import customer_with_history

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Watch:
    """Console errors and failed requests of a page, and its horizontal overflow."""

    def __init__(self, page):
        self.page, self.problems = page, []
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"),
        )
        page.on(
            "requestfailed",
            lambda request: self.problems.append(f"failed: {request.url} {request.failure}"),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and self.problems.append(f"{response.status}: {response.url}")
            ),
        )

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("networkidle")
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{what}: {overflow} px of horizontal overflow"
        assert self.problems == [], f"{what}: {self.problems}"


@pytest.fixture
def watched(page):
    page.watch = Watch(page)
    return page


def _login(page, user):
    page.goto("/admin/login/")
    page.fill('input[name="username"]', user.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff console")


def _sidebar(page):
    return page.locator("#nav-sidebar-apps")


def _sidebar_groups(page) -> dict[str, list[str]]:
    return page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('#nav-sidebar-apps h2')].map(h => [
            h.textContent.trim(),
            [...h.parentElement.querySelectorAll('li a')].map(a =>
                a.querySelector('span:not(.material-symbols-outlined)').textContent.trim())]))""")


def test_admin_finds_a_customer_and_opens_their_page(watched):
    page, shots = watched, watched.shots
    world = customer_with_history("dana@example.com")
    _login(page, AdminFactory(email="ops@example.com"))
    watched.watch.check("console home")
    shots("console-home")

    _sidebar(page).get_by_role("link", name="Customers", exact=False).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    page.fill('input[name="q"]', "dana@")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    page.locator("#result_list").get_by_role("link", name="dana@example.com").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dana Scully")
    customer = page.get_by_test_id("customer-page")
    expect(customer.get_by_role("heading", name="Subscription")).to_be_visible()
    expect(customer.get_by_text("Growth", exact=True)).to_be_visible()
    expect(page.get_by_test_id("amount-due")).to_contain_text("Due: $79.00")
    expect(page.get_by_test_id("credit-balance")).to_have_text("500 credits")
    expect(customer.get_by_role("link", name=world.invoice.number)).to_be_visible()
    expect(customer.get_by_text("Cannot download my invoice")).to_be_visible()
    watched.watch.check("customer page")
    shots("customer-page")
    # On a phone the page reflows: no horizontal scrolling (wide tables scroll in their card).
    page.set_viewport_size({"width": 390, "height": 844})
    watched.watch.check("customer page at 390 px")
    shots("customer-page-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # From the page, the invoice's own action: its confirmation, then it is paid.
    invoices = customer.locator("section", has=page.get_by_role("heading", name="Invoices"))
    invoices.get_by_role("button", name="Mark paid").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"\?$"))
    shots("mark-paid-confirm")
    page.get_by_role("button", name=re.compile("mark paid", re.IGNORECASE)).click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    world.invoice.refresh_from_db()
    assert world.invoice.status == "PAID"


def test_finance_exports_invoices_for_a_date_range(watched):
    page, shots = watched, watched.shots
    inside = customer_with_history("in@example.com").invoice
    outside = customer_with_history("out@example.com").invoice
    # Every invoice of the second customer (its open one and its paid order's) is older.
    Invoice.objects.filter(user=outside.user).update(created_at=timezone.now() - timedelta(days=90))
    in_range = sorted(Invoice.objects.filter(user=inside.user).values_list("number", flat=True))
    _login(page, FinanceFactory(email="fran@example.com"))
    _sidebar(page).get_by_role("link", name="Accounting exports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounting exports")
    today = timezone.localdate()
    page.select_option('select[name="dataset"]', "invoices")
    page.fill('input[name="start"]', (today - timedelta(days=30)).isoformat())
    page.fill('input[name="end"]', today.isoformat())
    page.select_option('select[name="format"]', "csv")
    watched.watch.check("export form")
    shots("export-form")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["number"] for row in rows) == in_range
    row = next(row for row in rows if row["number"] == inside.number)
    assert row["customer"] == "in@example.com" and row["total"] == "79.00"
    assert download.value.suggested_filename.startswith("invoices-")

    # A range that ends before it starts is refused next to the field.
    page.fill('input[name="start"]', today.isoformat())
    page.fill('input[name="end"]', (today - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Download").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_have_text("The last day comes before the first day.")
    shots("export-error")


def test_support_sees_only_its_groups(watched):
    page, shots = watched, watched.shots
    _login(page, StaffFactory(email="sam@example.com"))
    groups = _sidebar_groups(page)
    assert list(groups) == [
        "Customers",
        "Money",
        "Subscriptions",
        "Credits",
        "Support",
        "Catalog",
        "System",
    ]
    assert "Accounting exports" not in groups["Money"]
    assert groups["System"] == [
        "Users and roles",
        "Audit log",
        "Sign-in sessions",
        "API keys",
        "Stored files",
        "My console settings",
    ]
    expect(page.locator("#page")).not_to_contain_text(re.compile("Insights|Accounting export"))
    watched.watch.check("support home")
    shots("support-home")
    page.checks.expect(r"/admin/console/accountingexport/export/$", 403)
    response = page.goto("/admin/console/accountingexport/export/")
    assert response.status == 403
    watched.watch.problems.clear()  # the refusal above is the point


def test_an_invoice_list_fits_1280_px(watched):
    page, shots = watched, watched.shots
    for index in range(12):
        world = customer_with_history(
            f"a-rather-long-customer-address-number-{index}@accounts.example.com"
        )
        Invoice.objects.filter(pk=world.invoice.pk).update(
            payment_reference="REFERENCE-" + "X" * 40
        )
    _login(page, FinanceFactory(email="fran@example.com"))
    assert page.viewport_size["width"] == 1280
    # Our invoices, not the Stripe mirror's entry of the same name.
    _sidebar(page).locator('a[href="/admin/billing/invoice/"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    table = page.locator("#result_list")
    for header in ("Number", "User", "Status", "Total", "Due", "Due date"):
        expect(table.locator("thead")).to_contain_text(header)
    overflow = page.evaluate("""() => {
        const table = document.querySelector('#result_list');
        let box = table.parentElement;
        while (box && box.scrollWidth <= box.clientWidth && box !== document.body) {
            box = box.parentElement;
        }
        return {page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
                table: table.getBoundingClientRect().right - window.innerWidth};
    }""")
    assert overflow["page"] <= 0 and overflow["table"] <= 0, overflow
    # Statuses and amounts are never cut in two: their text is one line box.
    cells = table.locator("td.field-total_shown, td.field-amount_due_shown, td.field-status")
    assert cells.count() == 3 * Invoice.objects.count()  # each world's two invoices
    for cell in cells.all():
        lines = cell.evaluate("""c => { const range = document.createRange();
            range.selectNodeContents(c); return range.getClientRects().length; }""")
        assert lines == 1, cell.inner_text()
    watched.watch.check("invoice list")
    shots("invoice-list-1280")
    # The other lists staff work in fit too, with the same long addresses in them.
    for path in (
        "billing/order",
        "billing/payment",
        "billing/subscription",
        "credits/creditbalance",
        "credits/credittransaction",
        "credits/creditgrant",
        "support/ticket",
        "accounts/apikey",
        "core/auditlog",
        "console/customer",
    ):
        page.goto(f"/admin/{path}/")
        expect(page.locator("#result_list")).to_be_visible()
        watched.watch.check(path)
    shots("customers-1280")


def _dashboard_history():

    latest = timezone.localdate() - timedelta(days=1)
    rows = []
    for back in range(90):
        day: date = latest - timedelta(days=back)
        churned = 1 if back < 30 else 4
        for metric, dimension, value in (
            ("churned_subscriptions", "", churned),
            ("new_subscriptions", "", 3),
            ("active_subscriptions_at_start", "", 120),
            ("active_subscriptions", "", 120 + (90 - back) // 3),
            ("mrr", "usd", 950_000 + (90 - back) * 1_500),
            ("arr", "usd", (950_000 + (90 - back) * 1_500) * 12),
            ("net_revenue", "usd", 31_000 + (back % 7) * 900),
            ("new_customers", "", 4 + back % 3),
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


def test_the_analytics_dashboard(watched):
    page, shots = watched, watched.shots
    _dashboard_history()
    _login(page, AdminFactory(email="ops@example.com"))
    _sidebar(page).get_by_role("link", name="Analytics dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Analytics dashboard")
    churn = page.locator(".analytics-tile", has_text="Subscriber churn (30 days)")
    change = churn.locator(".tile-change")
    expect(change).to_have_class(re.compile(r"\bgood\b"))  # churn fell: good news
    assert change.evaluate("e => getComputedStyle(e).color") == "rgb(21, 128, 61)"
    mrr = page.locator(".analytics-tile", has_text="MRR").first.locator(".tile-change")
    expect(mrr).to_have_class(re.compile(r"\bgood\b"))
    watched.watch.check("dashboard")
    shots("analytics-dashboard")

    # The operations page renders inside the console, its scripts allowed as there.
    _sidebar(page).get_by_role("link", name="Operations").click()
    page.wait_for_load_state()
    watched.watch.check("operations")
