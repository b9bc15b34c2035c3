"""Staff authority as a table, its second half: every custom admin URL x every role, and
Django's own bulk delete. The rows come from the admin registry (see
``test_staff_authority.py``, the admin actions' half, and ``staff_authority_table``).
"""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts import authority
from accounts.factories import StaffFactory, UserFactory
from accounts.models import Role
from billing.factories import OrderFactory, OrderItemFactory
from billing.models import Invoice, Order, PaymentStatus, Subscription
from billing.services.payments import mark_paid_manually
from core.models import AuditLog
from support.factories import ChatMessageFactory, ConversationFactory, TicketFactory
from support.models import ApprovalRequest, ApprovalStatus, ChatRole
from tests.staff_authority_table import (
    APPROVAL,
    FACTORY,
    REFUSED,
    ROLES,
    Scenario,
    World,
    audit_and_approvals,
    browser_for,
    csrf_token,
    expected_outcome,
    manual_subscription,
    paid_invoice,
    paid_order,
    registry_urls,
    url_keys,
)


def _unanswered_question(customer):
    conversation = ConversationFactory(customer=customer)
    ChatMessageFactory(conversation=conversation, role=ChatRole.CUSTOMER, body="Okta SAML?")
    return ChatMessageFactory(conversation=conversation, answered=False)


def _ticket_with_paid_order(customer, total=10_000):

    return TicketFactory(customer=customer), paid_order(customer, total)


URL_SCENARIOS = {
    # name: (setup(world) -> (url kwargs, method, data, amount), snapshot)
    "billing_order_refund": lambda w: (
        {"order_id": paid_order(w.customer, 150_000).pk},
        "post",
        {"amount": "1500.00", "reason": "REQUESTED_BY_CUSTOMER", "notes": "table"},
        150_000,
    ),
    "billing_invoice_refund": lambda w: (
        {"invoice_id": paid_invoice(w.customer, 150_000).pk},
        "post",
        {"amount": "1500.00", "reason": "REQUESTED_BY_CUSTOMER", "notes": "table"},
        150_000,
    ),
    "support_ticket_act": lambda w: (
        {"pk": _ticket_with_paid_order(w.customer)[0].pk},
        "post",
        {"operation": "note", "body": "An internal note"},
        None,
    ),
    "support_ticket_credits": lambda w: (
        {"pk": _ticket_with_paid_order(w.customer)[0].pk},
        "post",
        {"amount": "5000", "reason": "goodwill"},
        5000,
    ),
    "support_ticket_refund": lambda w: (
        lambda ticket, order: (
            {"pk": ticket.pk},
            "post",
            {"order": order.pk, "amount": "50.00", "reason": "REQUESTED_BY_CUSTOMER", "notes": ""},
            5000,
        )
    )(*_ticket_with_paid_order(w.customer)),
    "support_ticket_extend_trial": lambda w: (
        lambda ticket, sub: (
            {"pk": ticket.pk},
            "post",
            {"subscription": sub.pk, "days": "5", "reason": "outage"},
            5,
        )
    )(_ticket_with_paid_order(w.customer)[0], manual_subscription(w.customer, status="TRIALING")),
    "analytics_dashboard_drilldown": lambda w: ({}, "get", {"day": "2026-01-01"}, None),
    "analytics_dashboard_export": lambda w: (
        {},
        "get",
        {"metric": "mrr", "start": "2026-01-01", "end": "2026-01-02"},
        None,
    ),
    # The staff console: a customer's page, one's own preferences, the accounting exports.
    "console_customer_overview": lambda w: ({"pk": w.customer.pk}, "get", {}, None),
    "console_preferences": lambda w: ({}, "post", {"timezone": "Europe/Paris"}, None),
    # A question the help bot could not answer, drafted into a help article.
    "helpbot_insights_unansweredquestion_draft": lambda w: (
        {"answer_id": _unanswered_question(w.customer).pk},
        "post",
        {},
        None,
    ),
    "console_export": lambda w: (
        {},
        "get",
        {"dataset": "invoices", "start": "2026-01-01", "end": "2026-01-31", "format": "csv"},
        None,
    ),
}


def _url_cells():
    cells = []
    for _label, name, model_admin in registry_urls():
        key = url_keys(model_admin, name)
        for role in ROLES:
            cells.append(pytest.param(name, key, role, id=f"{name}-{role}"))
    return cells


@pytest.mark.django_db
@pytest.mark.parametrize("name, key, role", _url_cells())
def test_custom_admin_url_as_each_role(name, key, role, stripe_no_network):
    setup = URL_SCENARIOS.get(name)
    assert setup is not None, f"no scenario for the custom admin URL {name}"
    world = World(customer=UserFactory())
    kwargs, method, data, amount = setup(world)
    user = FACTORY[role]()
    browser = browser_for(user)
    url = reverse(f"admin:{name}", kwargs=kwargs)
    before = audit_and_approvals()
    if method == "post":
        response = browser.post(url, {**data, "csrfmiddlewaretoken": csrf_token(browser)})
    else:
        response = browser.get(url, data)
    scenario = Scenario(setup=None, amount=amount)
    expected = expected_outcome(role, key, scenario)
    if role == Role.CUSTOMER:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    if expected == REFUSED:
        assert response.status_code in (302, 403)
        assert audit_and_approvals() == before
        return
    assert response.status_code in (200, 302)
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    if expected == APPROVAL:
        assert pending.count() == 1 and pending.get().requested_by_id == user.pk
    elif method == "post":
        assert not pending.exists()
        assert audit_and_approvals() != before


# --- Django's own bulk delete follows the model permissions ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.FINANCE, Role.SUPPORT])
def test_staff_roles_cannot_bulk_delete_money_rows(role):
    user = FACTORY[role]()
    for model in (Order, Invoice, Subscription, AuditLog):
        model_admin = admin.site._registry[model]
        request = type("Request", (), {"user": user})()
        assert not model_admin.has_delete_permission(request), model


@pytest.mark.django_db
def test_payment_status_untouched_by_refused_mark_paid():
    """The service itself refuses SUPPORT, whoever calls it (not only the admin)."""

    order = OrderFactory(subtotal=250_000)
    OrderItemFactory(order=order, unit_amount=250_000)
    with pytest.raises(authority.NotAuthorized) as refused:
        mark_paid_manually(order_id=order.pk, actor=StaffFactory())
    assert refused.value.code == "not_authorized"
    order.refresh_from_db()
    assert order.payment_status != PaymentStatus.SUCCEEDED
