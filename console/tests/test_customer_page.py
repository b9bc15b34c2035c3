"""A customer's page for staff, per role: what it shows, which actions it offers, and that
an action submitted from it goes through the admin's own action and the staff policy."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from accounts.models import Role
from billing.factories import OrderFactory
from billing.models import InvoiceStatus, Subscription
from console.tests.world import customer_with_history, form_with_button, forms_of
from credits.selectors import balance_of
from support.factories import TicketFactory

pytestmark = pytest.mark.django_db

FACTORY = {Role.ADMIN: AdminFactory, Role.FINANCE: FinanceFactory, Role.SUPPORT: StaffFactory}
# Buttons on the page, per role: what the policy lets the role do from there.
OFFERED = {
    Role.ADMIN: {
        "Suspend",
        "Sign out everywhere",
        "Cancel now",
        "Cancel at period end",
        "Give next period free",
        "Mark paid",
        "Send",
        "Void",
        "Refund",
        "Adjust credits",
        "Revoke",
    },
    Role.FINANCE: {
        "Cancel now",
        "Cancel at period end",
        "Give next period free",
        "Mark paid",
        "Send",
        "Void",
        "Refund",
        "Adjust credits",
    },
    Role.SUPPORT: {
        "Sign out everywhere",
        "Cancel at period end",
        "Give next period free",
        "Send",
        "Refund",
        "Adjust credits",
        "Revoke",
    },
}
NEVER = {
    Role.ADMIN: {"Reactivate"},
    Role.FINANCE: {"Suspend", "Sign out everywhere", "Revoke"},
    Role.SUPPORT: {"Suspend", "Cancel now", "Mark paid", "Void"},
}


def _page(role, customer):
    client = Client()
    client.force_login(FACTORY[role]())
    response = client.get(reverse("admin:console_customer_overview", args=[customer.pk]))
    return client, response


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE, Role.SUPPORT])
def test_the_page_shows_everything_about_the_customer(role):
    world = customer_with_history()
    _, response = _page(role, world.user)
    assert response.status_code == 200
    html = response.content.decode()
    for shown in (
        "dana@example.com",
        "Dana Scully",
        "Active",
        "Growth",  # the plan by its name
        world.invoice.number,
        "Due: $79.00",
        world.order.number,
        "$40.00",
        "500 credits",
        "Promotion",
        "Cannot download my invoice",
        "CI pipeline",
        "Audit trail",
    ):
        assert shown in html, shown
    # The audit trail names what happened to the customer's things (their order was paid).
    trail = html[html.index('id="audit"') :]
    assert f"Order {world.order.number}" in trail
    buttons = {button for form in _forms(html) for button in form["buttons"]}
    assert OFFERED[role] <= buttons, OFFERED[role] - buttons
    assert not (NEVER[role] & buttons), NEVER[role] & buttons


def _forms(html):

    return forms_of(html)


def test_customers_are_sent_to_the_sign_in():
    world = customer_with_history()
    client = Client()
    client.force_login(UserFactory())
    response = client.get(reverse("admin:console_customer_overview", args=[world.user.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_an_unknown_customer_is_a_404():
    client = Client()
    client.force_login(AdminFactory())
    assert client.get(reverse("admin:console_customer_overview", args=[999999])).status_code == 404


def test_finance_marks_the_invoice_paid_from_the_page():
    """The page's "Mark paid" form posts the invoice list's own action: its confirmation
    page, then the service (as finance, within finance's limit)."""
    world = customer_with_history()
    client, response = _page(Role.FINANCE, world.user)
    form = form_with_button(
        response.content.decode(), "Mark paid", _selected_action=world.invoice.pk
    )
    assert form is not None and form["action"] == reverse("admin:billing_invoice_changelist")
    client.handler.enforce_csrf_checks = True
    confirm = client.post(form["action"], form["fields"])
    assert confirm.status_code == 200 and world.invoice.number in confirm.content.decode()
    world.invoice.refresh_from_db()
    assert world.invoice.status == InvoiceStatus.OPEN  # asked first
    done = client.post(form["action"], {**form["fields"], "confirm": "yes"})
    assert done.status_code in (200, 302)
    world.invoice.refresh_from_db()
    assert world.invoice.status == InvoiceStatus.PAID


def test_support_adjusts_credits_from_the_page_within_its_limit():

    world = customer_with_history()
    client, response = _page(Role.SUPPORT, world.user)
    form = form_with_button(response.content.decode(), "Adjust credits")
    assert form is not None
    adjust = client.post(form["action"], form["fields"])
    assert adjust.status_code == 200 and "reason" in adjust.content.decode()
    client.post(
        form["action"],
        {**form["fields"], "apply": "1", "amount": "25", "reason": "Goodwill after an outage"},
    )
    assert balance_of(user=world.user) == 525


def test_support_cannot_forge_what_the_page_does_not_offer():
    """A hand-made "Mark paid" post as support changes nothing (the action menu and the
    policy refuse it), though the page never offered it."""
    world = customer_with_history()
    client, _ = _page(Role.SUPPORT, world.user)
    client.post(
        reverse("admin:billing_invoice_changelist"),
        {
            "action": "action_mark_paid",
            "_selected_action": world.invoice.pk,
            "index": "0",
            "confirm": "yes",
        },
    )
    world.invoice.refresh_from_db()
    assert world.invoice.status == InvoiceStatus.OPEN


@pytest.mark.parametrize(
    "url_name, field",
    [
        ("admin:billing_invoice_changelist", "user"),
        ("admin:billing_order_changelist", "user"),
        ("admin:billing_payment_changelist", "user"),
        ("admin:billing_subscription_changelist", "user"),
        ("admin:credits_creditbalance_changelist", "user"),
        ("admin:credits_credittransaction_changelist", "user"),
        ("admin:credits_creditgrant_changelist", "user"),
        ("admin:support_ticket_changelist", "customer"),
        ("admin:accounts_apikey_changelist", "user"),
        ("admin:console_customer_changelist", ""),
        ("admin:accounts_user_changelist", ""),
    ],
)
def test_every_list_that_shows_a_customer_links_to_their_page(url_name, field):
    world = customer_with_history()
    client = Client()
    client.force_login(AdminFactory())
    html = client.get(reverse(url_name)).content.decode()
    page = reverse("admin:console_customer_overview", args=[world.user.pk])
    assert f'href="{page}"' in html, url_name


def test_the_customer_list_finds_a_customer_by_email_and_leaves_staff_out():
    world = customer_with_history()
    staff = StaffFactory(email="agent@example.com")
    client = Client()
    client.force_login(StaffFactory())
    html = client.get(reverse("admin:console_customer_changelist"), {"q": "dana@"}).content.decode()
    assert "dana@example.com" in html
    assert (
        staff.email not in client.get(reverse("admin:console_customer_changelist")).content.decode()
    )
    assert world.user.pk


def test_the_page_reads_the_same_number_of_queries_whatever_the_history():
    """Each section is a bounded read: more orders, invoices or tickets add no query."""

    world = customer_with_history()
    client = Client()
    client.force_login(AdminFactory())
    url = reverse("admin:console_customer_overview", args=[world.user.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(15):
        OrderFactory(user=world.user, subtotal=1000)
        TicketFactory(customer=world.user)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_a_trial_is_extended_from_the_page_by_support():

    world = customer_with_history()
    Subscription.objects.filter(pk=world.subscription.pk).update(
        status="TRIALING", trial_end=world.subscription.current_period_end
    )
    client, response = _page(Role.SUPPORT, world.user)
    html = response.content.decode()
    form = form_with_button(html, "Extend trial", _selected_action=world.subscription.pk)
    assert form is not None and form_with_button(html, "Give next period free") is None
    page = client.post(form["action"], form["fields"])
    assert page.status_code == 200 and 'name="days"' in page.content.decode()
    before = Subscription.objects.get(pk=world.subscription.pk).trial_end
    client.post(form["action"], {**form["fields"], "apply": "1", "days": "5"})
    after = Subscription.objects.get(pk=world.subscription.pk).trial_end
    assert (after - before).days == 5


@pytest.mark.parametrize(
    "url_name, row",
    [
        ("admin:billing_invoice_change", "invoice"),
        ("admin:billing_order_change", "order"),
        ("admin:billing_subscription_change", "subscription"),
        ("admin:support_ticket_change", "ticket"),
        ("admin:accounts_apikey_change", "api_key"),
    ],
)
def test_a_customers_rows_link_their_page(url_name, row):
    world = customer_with_history()
    client = Client()
    client.force_login(AdminFactory())
    html = client.get(reverse(url_name, args=[getattr(world, row).pk])).content.decode()
    assert f'href="{reverse("admin:console_customer_overview", args=[world.user.pk])}"' in html
