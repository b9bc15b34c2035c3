"""The staff authority table's shared parts: the admin registry's actions and custom URLs,
the roles, the world each cell starts from, and how a cell's outcome is expected and read.

The tables themselves are ``test_staff_authority.py`` (admin actions) and
``test_staff_authority_urls.py`` (custom admin URLs).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import authority
from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from accounts.models import Role
from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, InvoiceStatus, Payment
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from catalog.factories import PlanFactory
from core.models import AuditLog
from support.models import ApprovalRequest

ROLES = [Role.ADMIN, Role.FINANCE, Role.SUPPORT, Role.CUSTOMER]
DONE, APPROVAL, REFUSED = "done", "approval requested", "refused"
FACTORY = {
    Role.ADMIN: AdminFactory,
    Role.FINANCE: FinanceFactory,
    Role.SUPPORT: StaffFactory,
    Role.CUSTOMER: UserFactory,
}


def registry_actions() -> list[tuple[str, str, object]]:
    """(model label, action name, model admin) of every action in the staff console, but
    Django's bulk delete, which follows the model permissions (tested below)."""
    rows = []
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            if name != "delete_selected":
                rows.append((model._meta.label, name, model_admin, func))
    return sorted(rows, key=lambda row: row[:2])


def registry_urls() -> list[tuple[str, str, object]]:
    rows = []
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.custom_url_names():
            rows.append((model._meta.label, name, model_admin))
    return sorted(rows, key=lambda row: row[:2])


@dataclass
class World:
    customer: object
    objects: dict = field(default_factory=dict)


def paid_order(customer, total):
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"bank-{order.pk}",
        amount=total,
        currency="usd",
    )
    return order


def manual_subscription(customer, *, status="ACTIVE", price=7900):

    plan = PlanFactory(billing_source="manual")
    plan.monthly_price.unit_amount = price
    plan.monthly_price.save(update_fields=["unit_amount"])
    now = timezone.now()
    return SubscriptionFactory(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        billing_source="manual",
        status=status,
        current_period_start=now - timedelta(days=3),
        current_period_end=now + timedelta(days=27),
        trial_start=now - timedelta(days=3) if status == "TRIALING" else None,
        trial_end=now + timedelta(days=27) if status == "TRIALING" else None,
    )


def open_invoice(customer, total, status=InvoiceStatus.OPEN):

    subscription = manual_subscription(customer)
    return Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        subscription=subscription,
        status=status,
        billing_source="manual",
        currency="usd",
        subtotal=total,
        total=total,
        amount_due=total,
        billing_reason="subscription_cycle",
    )


def paid_invoice(customer, total):
    """A manual subscription invoice paid by bank transfer (refunds settle at once)."""

    invoice = open_invoice(customer, total)
    Invoice.objects.filter(pk=invoice.pk).update(
        status=InvoiceStatus.PAID, amount_paid=total, amount_due=0, paid_at=timezone.now()
    )
    Payment.objects.create(
        user=customer,
        invoice=invoice,
        provider="manual",
        provider_id=f"bank-inv-{invoice.pk}",
        amount=total,
        currency="usd",
    )
    return invoice


def said(response, text) -> bool:

    return any(text in str(message) for message in get_messages(response.wsgi_request))


def audit_and_approvals():
    return (AuditLog.objects.count(), ApprovalRequest.objects.count())


@dataclass
class Scenario:
    """``setup(world)`` returns the selected pks and extra POST fields; ``amount`` sizes the
    action for the policy (None: no amount); ``snapshot`` reads what the action changes."""

    setup: object
    amount: int | None = None
    snapshot: object = audit_and_approvals
    expected: object = None  # role -> outcome, where the policy alone does not decide
    done_check: object = None  # response -> bool, for actions whose effect is not a row


def url_keys(model_admin, name) -> tuple[str, ...]:
    keys = getattr(model_admin, "policy_urls", {}).get(name) or ()
    return (keys,) if isinstance(keys, str) else tuple(keys)


def expected_outcome(role, key, scenario) -> str:
    """What the policy says ``role`` gets; ``key`` may be several actions, all needed (the
    last one is sized by the amount)."""
    if scenario.expected is not None:
        return scenario.expected(role)
    actor = type("Actor", (), {"role": role, "is_active": True})()
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not all(authority.may(actor, one) for one in keys):
        return REFUSED
    decision = authority.decide(actor, keys[-1], scenario.amount)
    return DONE if decision == authority.ALLOWED else APPROVAL


def browser_for(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf_token(browser) -> str:
    """A real CSRF token, from the first admin page this user can open (the login page for
    those who cannot use the admin), so a refused POST is refused by authority, not CSRF."""
    for url in (reverse("admin:index"), reverse("admin:login")):
        if "csrftoken" not in browser.cookies:
            browser.get(url)
    return browser.cookies["csrftoken"].value
