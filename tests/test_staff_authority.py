"""Staff authority as a table: every admin action and custom admin URL x every role.

The rows come from the admin registry itself, so a new admin action or URL without an entry
in the staff policy (accounts.authority.POLICY), or without a scenario here, fails. Each cell
is a real request through the admin with CSRF checks on, as that role, and what happened is
read back from the database: done (the action's effect is there), approval requested (a
PENDING approval request, nothing else done) or refused (no effect at all; staff are not even
offered the action, and a forged POST of it does nothing).
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import authority
from accounts.factories import (
    AdminFactory,
    ApiKeyFactory,
    FinanceFactory,
    LoginSessionFactory,
    StaffFactory,
    UserFactory,
)
from accounts.models import Role
from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, InvoiceStatus, Order, PaymentStatus, Subscription
from billing.services.payments import mark_order_paid
from core.models import AuditLog
from support.models import ApprovalRequest, ApprovalStatus

ROLES = [Role.ADMIN, Role.FINANCE, Role.SUPPORT, Role.CUSTOMER]
DONE, APPROVAL, REFUSED = "done", "approval requested", "refused"
FACTORY = {Role.ADMIN: AdminFactory, Role.FINANCE: FinanceFactory, Role.SUPPORT: StaffFactory,
           Role.CUSTOMER: UserFactory}


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


def test_every_admin_action_and_url_names_a_policy_action():
    missing = [f"{label}.{name}" for label, name, model_admin, func in registry_actions()
               if model_admin.policy_action_for(name, func) not in authority.POLICY]
    assert missing == [], "admin actions without a staff-policy entry"
    unnamed = [f"{label} {name}" for label, name, model_admin in registry_urls()
               if not _url_keys(model_admin, name)
               or not all(key in authority.POLICY for key in _url_keys(model_admin, name))]
    assert unnamed == [], "custom admin URLs without a staff-policy entry"


# --- the scenarios: what each action needs, and how its effect shows -------------------------


@dataclass
class World:
    customer: object
    objects: dict = field(default_factory=dict)


def _paid_order(customer, total):
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(order_id=order.pk, provider="manual", provider_id=f"bank-{order.pk}",
                    amount=total, currency="usd")
    return order


def _manual_subscription(customer, *, status="ACTIVE", price=7900):
    from catalog.factories import PlanFactory

    plan = PlanFactory(billing_source="manual")
    plan.monthly_price.unit_amount = price
    plan.monthly_price.save(update_fields=["unit_amount"])
    now = timezone.now()
    return SubscriptionFactory(
        user=customer, plan=plan, price=plan.monthly_price, billing_source="manual",
        status=status, current_period_start=now - timedelta(days=3),
        current_period_end=now + timedelta(days=27),
        trial_start=now - timedelta(days=3) if status == "TRIALING" else None,
        trial_end=now + timedelta(days=27) if status == "TRIALING" else None)


def _open_invoice(customer, total, status=InvoiceStatus.OPEN):
    from billing.services.numbers import next_number

    subscription = _manual_subscription(customer)
    return Invoice.objects.create(
        number=next_number("INV"), user=customer, subscription=subscription, status=status,
        billing_source="manual", currency="usd", subtotal=total, total=total,
        amount_due=total, billing_reason="subscription_cycle")


def _paid_invoice(customer, total):
    """A manual subscription invoice paid by bank transfer (refunds settle at once)."""
    from billing.models import Payment

    invoice = _open_invoice(customer, total)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, amount_paid=total,
                                                 amount_due=0, paid_at=timezone.now())
    Payment.objects.create(user=customer, invoice=invoice, provider="manual",
                           provider_id=f"bank-inv-{invoice.pk}", amount=total, currency="usd")
    return invoice


def _said(response, text) -> bool:
    from django.contrib.messages import get_messages

    return any(text in str(message) for message in get_messages(response.wsgi_request))


def _audit_and_approvals():
    return (AuditLog.objects.count(), ApprovalRequest.objects.count())


@dataclass
class Scenario:
    """``setup(world)`` returns the selected pks and extra POST fields; ``amount`` sizes the
    action for the policy (None: no amount); ``snapshot`` reads what the action changes."""

    setup: object
    amount: int | None = None
    snapshot: object = _audit_and_approvals
    expected: object = None  # role -> outcome, where the policy alone does not decide
    done_check: object = None  # response -> bool, for actions whose effect is not a row


def _pending_order(world):
    order = OrderFactory(user=world.customer, subtotal=250_000)
    OrderItemFactory(order=order, unit_amount=250_000)
    return [order.pk], {"confirm": "yes"}


def _approval_decider(role):
    # A SUPPORT agent's request for 5,000 credits: above support's limit, within finance's.
    actor = type("Actor", (), {"role": role, "is_active": True})()
    if not authority.may(actor, "support.approval.decide"):
        return REFUSED
    return DONE if authority.decide(actor, "credits.adjust", 5000) == authority.ALLOWED \
        else REFUSED


def _pending_approval(world):
    approval = ApprovalRequest.objects.create(
        action_key="credits.adjust", amount=5000, requested_by=StaffFactory(),
        payload={"user_id": world.customer.pk, "amount": 5000, "reason": "goodwill"})
    return [approval.pk], {}


def _approval_state():
    return list(ApprovalRequest.objects.order_by("pk").values_list("status", flat=True))


def _email_address(world):
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.create(user=world.customer, email="second@example.com",
                                          verified=False, primary=False)
    return [address.pk], {}


def _email_state():
    from allauth.account.models import EmailAddress

    return list(EmailAddress.objects.order_by("pk").values_list("verified", flat=True))


def _periodic_task(world, *, enabled=True):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=1, period="days")
    task = PeriodicTask.objects.create(name="authority-table",
                                       task="config.outbox.tasks.relay_outbox",
                                       interval=every, enabled=enabled)
    return [task.pk], {}


def _periodic_state():
    from django_celery_beat.models import PeriodicTask

    return list(PeriodicTask.objects.filter(name="authority-table")
                .values_list("enabled", "last_run_at", "total_run_count"))


def _tickets(world):
    from support.factories import TicketFactory

    first, second = TicketFactory(customer=world.customer), TicketFactory(customer=world.customer)
    agent = StaffFactory()
    return [first.pk, second.pk], {"agent": agent.pk, "target": first.pk, "confirm": "yes"}


def _ticket_state():
    from support.models import Ticket

    return list(Ticket.objects.order_by("pk").values_list("assignee_id", "status",
                                                          "merged_into_id"))


def _webhook_event(world):
    from billing.factories import WebhookEventFactory

    event = WebhookEventFactory(status="PROCESSED")
    return [event.pk], {}


def _webhook_endpoint(world, *, active=True):
    from webhooks_out.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hooks",
                                              event_types=["order.paid"], active=active)
    return [endpoint.pk], {"confirm": "yes"}


def _webhook_endpoint_state():
    from webhooks_out.models import WebhookDelivery, WebhookEndpoint

    return (list(WebhookEndpoint.objects.order_by("pk").values_list("active", "secret")),
            WebhookDelivery.objects.count())


def _webhook_delivery(world):
    from webhooks_out import events
    from webhooks_out.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hooks",
                                              event_types=["order.paid"], active=False)
    event = events.emit("order.paid", {"id": 1}, endpoints=[endpoint])
    return [event.deliveries.get().pk], {}


def _unanswered_question(world):
    from support.factories import ConversationFactory
    from support.models import ChatMessage

    conversation = ConversationFactory(customer=world.customer)
    ChatMessage.objects.create(conversation=conversation, role="customer",
                               body="Do you support SAML?")
    answer = ChatMessage.objects.create(conversation=conversation, role="bot",
                                        body="I could not find an answer.", answered=False)
    return [answer.pk], {}


def _article_count():
    from support.models import Article

    return Article.objects.count()


SCENARIOS = {
    ("billing.Order", "action_mark_paid"): Scenario(_pending_order, amount=250_000),
    ("billing.Order", "action_cancel"): Scenario(_pending_order),
    # Opens the refund form (the URL table below covers the refund itself).
    ("billing.Order", "action_refund"): Scenario(
        lambda w: ([_paid_order(w.customer, 1000).pk], {}), amount=1000,
        snapshot=lambda: None,
        done_check=lambda response: response["Location"].endswith("/refund/")),
    ("billing.Invoice", "action_finalize"): Scenario(
        lambda w: ([_open_invoice(w.customer, 7900, status=InvoiceStatus.DRAFT).pk],
                   {"confirm": "yes"})),
    ("billing.Invoice", "action_mark_paid"): Scenario(
        lambda w: ([_open_invoice(w.customer, 150_000).pk], {"confirm": "yes"}),
        amount=150_000),
    ("billing.Invoice", "action_void"): Scenario(
        lambda w: ([_open_invoice(w.customer, 7900).pk], {"confirm": "yes"})),
    ("billing.Invoice", "action_send"): Scenario(
        lambda w: ([_open_invoice(w.customer, 7900).pk], {})),
    # Opens the refund form (the URL table below covers the refund itself).
    ("billing.Invoice", "action_refund"): Scenario(
        lambda w: ([_paid_invoice(w.customer, 7900).pk], {}), amount=7900,
        snapshot=lambda: None,
        done_check=lambda response: response["Location"].endswith("/refund/")),
    ("billing.Subscription", "action_cancel_now"): Scenario(
        lambda w: ([_manual_subscription(w.customer).pk], {"confirm": "yes"})),
    ("billing.Subscription", "action_cancel_at_end"): Scenario(
        lambda w: ([_manual_subscription(w.customer).pk], {"confirm": "yes"})),
    ("billing.Subscription", "action_comp_period"): Scenario(
        lambda w: ([_manual_subscription(w.customer, price=7900).pk], {"confirm": "yes"}),
        amount=7900),
    ("billing.Subscription", "action_extend_trial"): Scenario(
        lambda w: ([_manual_subscription(w.customer, status="TRIALING").pk],
                   {"apply": "1", "days": "30"}), amount=30),
    ("billing.Subscription", "action_issue_invoice"): Scenario(
        lambda w: ([_manual_subscription(w.customer).pk], {})),
    # Without Stripe keys the sync reports its failures: the report is the effect.
    ("billing.PlanSubscribers", "action_push_to_stripe"): Scenario(
        lambda w: ([_manual_subscription(w.customer).plan_id], {}), snapshot=lambda: None,
        done_check=lambda response: _said(response, "Pushed ")),
    ("billing.PlanSubscribers", "action_pull_from_stripe"): Scenario(
        lambda w: ([_manual_subscription(w.customer).plan_id], {}), snapshot=lambda: None,
        done_check=lambda response: _said(response, "Stripe's catalog")),
    ("billing.WebhookEvent", "action_replay"): Scenario(_webhook_event),
    ("credits.CreditBalance", "adjust_credits"): Scenario(
        lambda w: ([_balance(w.customer)], {"apply": "1", "amount": "5000",
                                            "reason": "goodwill"}), amount=5000),
    ("support.Ticket", "assign_to_me"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.Ticket", "assign_to_agent"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.Ticket", "merge_tickets"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.ApprovalRequest", "approve_selected"): Scenario(
        _pending_approval, snapshot=_approval_state, expected=_approval_decider),
    ("support.ApprovalRequest", "reject_selected"): Scenario(
        _pending_approval, snapshot=_approval_state),
    ("accounts.User", "suspend_users"): Scenario(
        lambda w: ([UserFactory().pk], {"confirmed": "yes"})),
    ("accounts.User", "reactivate_users"): Scenario(
        lambda w: ([UserFactory(status="SUSPENDED", is_active=False).pk],
                   {"confirmed": "yes"})),
    ("accounts.User", "force_logout_users"): Scenario(
        lambda w: ([LoginSessionFactory(user=w.customer).user_id], {"confirmed": "yes"})),
    ("accounts.LoginSession", "revoke_selected"): Scenario(
        lambda w: ([LoginSessionFactory(user=w.customer).pk], {})),
    ("accounts.ApiKey", "revoke_selected"): Scenario(
        lambda w: ([ApiKeyFactory(user=w.customer).pk], {})),
    ("account.EmailAddress", "make_verified"): Scenario(_email_address,
                                                        snapshot=_email_state),
    ("django_celery_beat.PeriodicTask", "enable_tasks"): Scenario(
        lambda w: _periodic_task(w, enabled=False), snapshot=_periodic_state),
    ("django_celery_beat.PeriodicTask", "disable_tasks"): Scenario(
        _periodic_task, snapshot=_periodic_state),
    ("django_celery_beat.PeriodicTask", "toggle_tasks"): Scenario(
        _periodic_task, snapshot=_periodic_state),
    ("django_celery_beat.PeriodicTask", "run_tasks"): Scenario(
        _periodic_task, snapshot=_periodic_state,
        done_check=lambda response: _said(response, "successfully run")),
    **{("webhooks_out.WebhookEndpoint", name): Scenario(
        lambda w, name=name: _webhook_endpoint(w, active=name != "enable_endpoints"),
        snapshot=_webhook_endpoint_state)
       for name in ("send_test_event", "enable_endpoints", "disable_endpoints",
                    "rotate_secret")},
    ("webhooks_out.WebhookDelivery", "replay_deliveries"): Scenario(_webhook_delivery),
    ("helpbot_insights.UnansweredQuestion", "draft_article"): Scenario(
        _unanswered_question, snapshot=_article_count),
    **{("catalog.Product", name): Scenario(
        lambda w, name=name: ([_product(name)], {}))
       for name in ("publish", "archive", "unpublish", "feature", "unfeature", "duplicate",
                    "soft_delete", "restore")},
}


def _balance(customer):
    from credits.services import grant_credits

    grant_credits(user=customer, amount=10, source="PROMO", idempotency_key=f"t-{customer.pk}")
    return customer.credit_balance.pk


def _product(action):
    from catalog.factories import DraftProductFactory, ProductFactory

    if action == "publish":
        return DraftProductFactory().pk
    if action == "restore":
        return ProductFactory(deleted_at=timezone.now()).pk
    if action == "unpublish":
        return ProductFactory().pk
    return ProductFactory(featured=action == "unfeature").pk


def _url_keys(model_admin, name) -> tuple[str, ...]:
    keys = getattr(model_admin, "policy_urls", {}).get(name) or ()
    return (keys,) if isinstance(keys, str) else tuple(keys)


def _expected(role, key, scenario) -> str:
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


def _browser(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def _csrf(browser) -> str:
    """A real CSRF token, from the first admin page this user can open (the login page for
    those who cannot use the admin), so a refused POST is refused by authority, not CSRF."""
    for url in (reverse("admin:index"), reverse("admin:login")):
        if "csrftoken" not in browser.cookies:
            browser.get(url)
    return browser.cookies["csrftoken"].value


def _action_cells():
    cells = []
    for label, name, model_admin, func in registry_actions():
        key = model_admin.policy_action_for(name, func)
        for role in ROLES:
            cells.append(pytest.param(label, name, key, role, id=f"{label}.{name}-{role}"))
    return cells


@pytest.mark.django_db
@pytest.mark.parametrize("label, name, key, role", _action_cells())
def test_admin_action_as_each_role(label, name, key, role, stripe_no_network):
    scenario = SCENARIOS.get((label, name))
    assert scenario is not None, f"no scenario for the admin action {label}.{name}"
    world = World(customer=UserFactory())
    pks, extra = scenario.setup(world)
    user = FACTORY[role]()
    app_label, model_name = label.split(".")[0], label.split(".")[1].lower()
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    browser = _browser(user)
    page = browser.get(changelist)
    offered = page.status_code == 200 and f'value="{name}"' in page.content.decode()
    before = scenario.snapshot()
    pending_before = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count()
    response = browser.post(changelist, {
        "action": name, "_selected_action": [str(pk) for pk in pks], "index": "0",
        "csrfmiddlewaretoken": _csrf(browser), **extra})
    assert response.status_code in (200, 302, 403), response.status_code
    after = scenario.snapshot()
    pending = ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING).count() - pending_before
    expected = _expected(role, key, scenario)
    if expected == REFUSED:
        assert after == before, f"{role} changed something with {label}.{name}"
        if scenario.expected is None:
            assert not offered, f"{role} is offered {label}.{name}"
        assert pending <= 0
    elif expected == APPROVAL:
        assert offered and response.status_code in (200, 302)
        assert pending == 1, f"{role}: no approval request for {label}.{name}"
        latest = ApprovalRequest.objects.latest("pk")
        assert latest.action_key == key and latest.requested_by_id == user.pk
    else:
        assert offered and pending <= 0 and response.status_code in (200, 302)
        if scenario.done_check is not None:
            assert scenario.done_check(response), f"{role}: {label}.{name} did nothing"
        else:
            assert after != before, f"{role}: {label}.{name} did nothing"


@pytest.fixture
def stripe_no_network(settings):
    """Stripe keys are absent: Stripe-side actions refuse at once instead of calling out."""
    settings.STRIPE_SECRET_KEY = ""
    return settings


# --- custom admin URLs ------------------------------------------------------------------------


def _ticket_with_paid_order(customer, total=10_000):
    from support.factories import TicketFactory

    return TicketFactory(customer=customer), _paid_order(customer, total)


URL_SCENARIOS = {
    # name: (setup(world) -> (url kwargs, method, data, amount), snapshot)
    "billing_order_refund": lambda w: (
        {"order_id": _paid_order(w.customer, 150_000).pk}, "post",
        {"amount": "1500.00", "reason": "REQUESTED_BY_CUSTOMER", "notes": "table"}, 150_000),
    "billing_invoice_refund": lambda w: (
        {"invoice_id": _paid_invoice(w.customer, 150_000).pk}, "post",
        {"amount": "1500.00", "reason": "REQUESTED_BY_CUSTOMER", "notes": "table"}, 150_000),
    "support_ticket_act": lambda w: (
        {"pk": _ticket_with_paid_order(w.customer)[0].pk}, "post",
        {"operation": "note", "body": "An internal note"}, None),
    "support_ticket_credits": lambda w: (
        {"pk": _ticket_with_paid_order(w.customer)[0].pk}, "post",
        {"amount": "5000", "reason": "goodwill"}, 5000),
    "support_ticket_refund": lambda w: (
        lambda ticket, order: ({"pk": ticket.pk}, "post",
                               {"order": order.pk, "amount": "50.00",
                                "reason": "REQUESTED_BY_CUSTOMER", "notes": ""}, 5000)
    )(*_ticket_with_paid_order(w.customer)),
    "support_ticket_extend_trial": lambda w: (
        lambda ticket, sub: ({"pk": ticket.pk}, "post",
                             {"subscription": sub.pk, "days": "5", "reason": "outage"}, 5)
    )(_ticket_with_paid_order(w.customer)[0],
      _manual_subscription(w.customer, status="TRIALING")),
    "analytics_dashboard_drilldown": lambda w: ({}, "get", {"day": "2026-01-01"}, None),
    "analytics_dashboard_export": lambda w: (
        {}, "get", {"metric": "mrr", "start": "2026-01-01", "end": "2026-01-02"}, None),
    # The staff console: a customer's page, one's own preferences, the accounting exports.
    "console_customer_overview": lambda w: ({"pk": w.customer.pk}, "get", {}, None),
    "console_preferences": lambda w: ({}, "post", {"timezone": "Europe/Paris"}, None),
    "console_export": lambda w: (
        {}, "get", {"dataset": "invoices", "start": "2026-01-01", "end": "2026-01-31",
                    "format": "csv"}, None),
}


def _url_cells():
    cells = []
    for _label, name, model_admin in registry_urls():
        key = _url_keys(model_admin, name)
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
    browser = _browser(user)
    url = reverse(f"admin:{name}", kwargs=kwargs)
    before = _audit_and_approvals()
    if method == "post":
        response = browser.post(url, {**data, "csrfmiddlewaretoken": _csrf(browser)})
    else:
        response = browser.get(url, data)
    scenario = Scenario(setup=None, amount=amount)
    expected = _expected(role, key, scenario)
    if role == Role.CUSTOMER:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    if expected == REFUSED:
        assert response.status_code in (302, 403)
        assert _audit_and_approvals() == before
        return
    assert response.status_code in (200, 302)
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    if expected == APPROVAL:
        assert pending.count() == 1 and pending.get().requested_by_id == user.pk
    elif method == "post":
        assert not pending.exists()
        assert _audit_and_approvals() != before


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
    from billing.services.payments import mark_paid_manually

    order = OrderFactory(subtotal=250_000)
    OrderItemFactory(order=order, unit_amount=250_000)
    with pytest.raises(authority.NotAuthorized) as refused:
        mark_paid_manually(order_id=order.pk, actor=StaffFactory())
    assert refused.value.code == "not_authorized"
    order.refresh_from_db()
    assert order.payment_status != PaymentStatus.SUCCEEDED
