"""The staff console's navigation by job: each role sees the groups and pages it may use,
and nothing else; the home page shows the groups, not every model."""

import importlib
import re

import pytest
from django.test import Client
from django.urls import clear_url_caches, reverse

import config.urls
from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from accounts.models import Role
from billing.stripe.mirror import MIRRORED
from console.navigation import groups_for

FACTORY = {Role.ADMIN: AdminFactory, Role.FINANCE: FinanceFactory, Role.SUPPORT: StaffFactory}

# billing registers dj-stripe's mirrored tables read-only: the "Stripe mirror" group, for the
# roles that reconcile against it (finance and admin).
STRIPE_MIRROR = [
    "Charges",
    "Customers",
    "Disputes",
    "Invoices",
    "Payment intents",
    "Payment methods",
    "Prices",
    "Products",
    "Refunds",
    "Subscriptions",
]

# What each role finds in the sidebar, group by group (titles as shown).
EXPECTED = {
    Role.ADMIN: {
        "Customers": ["Customers", "Billing profiles", "Payment methods"],
        "Money": [
            "Orders",
            "Invoices",
            "Payments",
            "Refunds",
            "Credit notes",
            "Discounts",
            "Promotion codes",
            "Discount durations",
            "Approval requests",
            "Accounting exports",
        ],
        "Subscriptions": ["Subscriptions", "Past due", "Plans and subscribers"],
        "Credits": ["Balances", "Ledger", "Lots", "Feature costs"],
        "Support": [
            "Tickets",
            "Help-bot conversations",
            "Chat messages",
            "Help articles",
            "Help-bot ratings by article",
            "Answers rated not helpful",
            "Unanswered questions",
        ],
        "Catalog": [
            "Products",
            "Plans",
            "Prices",
            "Variants",
            "Pricing tiers",
            "Categories",
            "Collections",
            "Reviews",
        ],
        "Insights": ["Analytics dashboard", "Daily metrics", "Reconciliation drifts"],
        "System": [
            "Settings",
            "Users and roles",
            "Webhook events",
            "Webhook endpoints (out)",
            "Webhook deliveries (out)",
            "Events sent (out)",
            "Outbox",
            "Schedules",
            "Audit log",
            "Sign-in sessions",
            "API keys",
            "Stored files",
            "E-mail addresses",
            "Linked Google and GitHub accounts",
            "Operations",
            "My console settings",
        ],
        "Stripe mirror": STRIPE_MIRROR,
    },
    Role.FINANCE: {
        "Customers": ["Customers", "Billing profiles", "Payment methods"],
        "Money": [
            "Orders",
            "Invoices",
            "Payments",
            "Refunds",
            "Credit notes",
            "Discounts",
            "Promotion codes",
            "Discount durations",
            "Approval requests",
            "Accounting exports",
        ],
        "Subscriptions": ["Subscriptions", "Past due", "Plans and subscribers"],
        "Credits": ["Balances", "Ledger", "Lots", "Feature costs"],
        "Support": ["Tickets", "Help-bot conversations", "Chat messages", "Help articles"],
        "Catalog": [
            "Products",
            "Plans",
            "Prices",
            "Variants",
            "Pricing tiers",
            "Categories",
            "Collections",
            "Reviews",
        ],
        "Insights": ["Analytics dashboard", "Daily metrics", "Reconciliation drifts"],
        "System": [
            "Settings",
            "Users and roles",
            "Webhook events",
            "Outbox",
            "Audit log",
            "Sign-in sessions",
            "API keys",
            "Stored files",
            "My console settings",
        ],
        "Stripe mirror": STRIPE_MIRROR,
    },
    Role.SUPPORT: {
        "Customers": ["Customers", "Billing profiles", "Payment methods"],
        "Money": [
            "Orders",
            "Invoices",
            "Payments",
            "Refunds",
            "Credit notes",
            "Discounts",
            "Promotion codes",
            "Approval requests",
        ],
        "Subscriptions": ["Subscriptions", "Past due"],
        "Credits": ["Balances", "Ledger", "Lots", "Feature costs"],
        "Support": [
            "Tickets",
            "Help-bot conversations",
            "Chat messages",
            "Help articles",
            "Help-bot ratings by article",
            "Answers rated not helpful",
            "Unanswered questions",
        ],
        "Catalog": [
            "Products",
            "Plans",
            "Prices",
            "Variants",
            "Pricing tiers",
            "Categories",
            "Collections",
            "Reviews",
        ],
        "System": [
            "Users and roles",
            "Audit log",
            "Sign-in sessions",
            "API keys",
            "Stored files",
            "My console settings",
        ],
    },
}


def _sidebar(response) -> dict[str, list[str]]:
    return {
        group["title"]: [item["title"] for item in group["items"] if item["has_permission"]]
        for group in response.context["sidebar_navigation"]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE, Role.SUPPORT])
def test_each_role_sees_its_groups_and_pages(role):
    client = Client()
    client.force_login(FACTORY[role]())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert _sidebar(response) == EXPECTED[role]
    html = response.content.decode()
    # The home page shows the jobs as cards, with the same entries.
    for group, titles in EXPECTED[role].items():
        assert f"</span> {group}</h2>" in html
        for title in titles:
            assert f">{title}</a></li>" in html, title
    # No dj-stripe page but the mirror's read-only lists, no axes, sites or scheduler
    # internals in the navigation.
    linked = set(re.findall(r'href="/admin/djstripe/([a-z_]+)/"', html))
    assert linked <= {name.lower() for name in MIRRORED.values()}, linked
    for hidden in (
        '/admin/djstripe/"',
        "/admin/axes/",
        "/admin/sites/",
        "/admin/django_celery_beat/crontabschedule/",
        "/admin/django_celery_beat/intervalschedule/",
        "/admin/auth/group/",
    ):
        assert f'href="{hidden}' not in html, hidden


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE, Role.SUPPORT])
def test_every_link_a_role_sees_opens(role):
    client = Client()
    client.force_login(FACTORY[role]())
    response = client.get(reverse("admin:index"))
    links = [
        item["link"]
        for group in response.context["sidebar_navigation"]
        for item in group["items"]
        if item["has_permission"]
    ]
    assert links
    for link in links:
        page = client.get(link, follow=True)
        assert page.status_code == 200, link


@pytest.mark.django_db
def test_support_is_refused_what_it_does_not_see():
    client = Client()
    client.force_login(StaffFactory())
    for url in (
        reverse("admin:console_export"),
        "/admin/core/systemconfig/",
        "/admin/billing/webhookevent/",
    ):
        assert client.get(url).status_code == 403, url
    # The analytics app has nothing a support agent may see: the admin does not know it.
    assert client.get("/admin/analytics/").status_code == 404


@pytest.mark.django_db
def test_customers_cannot_open_the_console():
    client = Client()
    client.force_login(UserFactory())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_the_theme_script_is_allowed_on_console_pages_only():
    client = Client()
    client.force_login(AdminFactory())
    console = client.get(reverse("admin:index"))["Content-Security-Policy"]
    assert re.search(r"script-src 'self' 'unsafe-eval'", console)
    # The operations page renders inside the console.
    assert "'unsafe-eval'" in client.get("/ops/")["Content-Security-Policy"]
    shop = client.get("/")["Content-Security-Policy"]
    assert "unsafe-eval" not in shop


@pytest.mark.django_db
def test_the_stripe_mirror_group_lists_the_mirror_tables_to_finance_and_admin():
    """dj-stripe's tables stay out of the job groups; the mirrored ones (registered read-only
    by billing) are the "Stripe mirror" group, the last one, which only a role seeing the
    djstripe app gets."""

    class Request:
        def __init__(self, user):
            self.user, self.path = user, "/admin/"

    for user in (AdminFactory(), FinanceFactory()):
        titles = {g["title"]: [i["title"] for i in g["items"]] for g in groups_for(Request(user))}
        assert titles["Stripe mirror"] == STRIPE_MIRROR
        assert list(titles)[-1] == "Stripe mirror"
    assert "Stripe mirror" not in [g["title"] for g in groups_for(Request(StaffFactory()))]


def _reload_urls():
    """The admin's URLs as registered now (they are read once, when the URLconf loads)."""

    importlib.reload(config.urls)
    clear_url_caches()
