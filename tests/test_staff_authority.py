"""Staff authority as a table: every admin action and custom admin URL x every role.

The rows come from the admin registry itself, so a new admin action or URL without an entry
in the staff policy (accounts.authority.POLICY), or without a scenario here, fails. Each cell
is a real request through the admin with CSRF checks on, as that role, and what happened is
read back from the database: done (the action's effect is there), approval requested (a
PENDING approval request, nothing else done) or refused (no effect at all; staff are not even
offered the action, and a forged POST of it does nothing).

This file holds the admin actions' half; the custom admin URLs' is
``test_staff_authority_urls.py``, and what both share is ``staff_authority_table``.
"""

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts import authority
from accounts.factories import ApiKeyFactory, LoginSessionFactory, StaffFactory, UserFactory
from billing.factories import (
    DiscountFactory,
    OrderFactory,
    OrderItemFactory,
    WebhookEventFactory,
)
from billing.models import InvoiceStatus, PromotionCode
from catalog.factories import DraftProductFactory, ProductFactory
from credits.services import grant_credits
from support.factories import ConversationFactory, TicketFactory
from support.models import ApprovalRequest, ApprovalStatus, Article, ChatMessage, Ticket
from tests.staff_authority_table import (
    APPROVAL,
    DONE,
    FACTORY,
    REFUSED,
    ROLES,
    Scenario,
    World,
    browser_for,
    csrf_token,
    expected_outcome,
    manual_subscription,
    open_invoice,
    paid_invoice,
    paid_order,
    registry_actions,
    registry_urls,
    said,
    url_keys,
)
from webhooks_out import events
from webhooks_out.models import WebhookDelivery, WebhookEndpoint


def test_every_admin_action_and_url_names_a_policy_action():
    missing = [
        f"{label}.{name}"
        for label, name, model_admin, func in registry_actions()
        if model_admin.policy_action_for(name, func) not in authority.POLICY
    ]
    assert missing == [], "admin actions without a staff-policy entry"
    unnamed = [
        f"{label} {name}"
        for label, name, model_admin in registry_urls()
        if not url_keys(model_admin, name)
        or not all(key in authority.POLICY for key in url_keys(model_admin, name))
    ]
    assert unnamed == [], "custom admin URLs without a staff-policy entry"


# --- the scenarios: what each action needs, and how its effect shows -------------------------


def _pending_order(world):
    order = OrderFactory(user=world.customer, subtotal=250_000)
    OrderItemFactory(order=order, unit_amount=250_000)
    return [order.pk], {"confirm": "yes"}


def _approval_decider(role):
    # A SUPPORT agent's request for 5,000 credits: above support's limit, within finance's.
    actor = type("Actor", (), {"role": role, "is_active": True})()
    if not authority.may(actor, "support.approval.decide"):
        return REFUSED
    return DONE if authority.decide(actor, "credits.adjust", 5000) == authority.ALLOWED else REFUSED


def _pending_approval(world):
    approval = ApprovalRequest.objects.create(
        action_key="credits.adjust",
        amount=5000,
        requested_by=StaffFactory(),
        payload={"user_id": world.customer.pk, "amount": 5000, "reason": "goodwill"},
    )
    return [approval.pk], {}


def _approval_state():
    return list(ApprovalRequest.objects.order_by("pk").values_list("status", flat=True))


def _email_address(world):

    address = EmailAddress.objects.create(
        user=world.customer, email="second@example.com", verified=False, primary=False
    )
    return [address.pk], {}


def _email_state():

    return list(EmailAddress.objects.order_by("pk").values_list("verified", flat=True))


def _periodic_task(world, *, enabled=True):

    every = IntervalSchedule.objects.create(every=1, period="days")
    task = PeriodicTask.objects.create(
        name="authority-table",
        task="config.outbox.tasks.relay_outbox",
        interval=every,
        enabled=enabled,
    )
    return [task.pk], {}


def _periodic_state():

    return list(
        PeriodicTask.objects.filter(name="authority-table").values_list(
            "enabled", "last_run_at", "total_run_count"
        )
    )


def _tickets(world):

    first, second = TicketFactory(customer=world.customer), TicketFactory(customer=world.customer)
    agent = StaffFactory()
    return [first.pk, second.pk], {"agent": agent.pk, "target": first.pk, "confirm": "yes"}


def _ticket_state():

    return list(
        Ticket.objects.order_by("pk").values_list("assignee_id", "status", "merged_into_id")
    )


def _webhook_event(world):

    event = WebhookEventFactory(status="PROCESSED")
    return [event.pk], {}


def _webhook_endpoint(world, *, active=True):

    endpoint = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/hooks", event_types=["order.paid"], active=active
    )
    return [endpoint.pk], {"confirm": "yes"}


def _webhook_endpoint_state():

    return (
        list(WebhookEndpoint.objects.order_by("pk").values_list("active", "secret")),
        WebhookDelivery.objects.count(),
    )


def _webhook_delivery(world):

    endpoint = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/hooks", event_types=["order.paid"], active=False
    )
    event = events.emit("order.paid", {"id": 1}, endpoints=[endpoint])
    return [event.deliveries.get().pk], {}


def _unanswered_question(world):

    conversation = ConversationFactory(customer=world.customer)
    ChatMessage.objects.create(
        conversation=conversation, role="customer", body="Do you support SAML?"
    )
    answer = ChatMessage.objects.create(
        conversation=conversation, role="bot", body="I could not find an answer.", answered=False
    )
    return [answer.pk], {}


def _article_count():

    return Article.objects.count()


def _promotion_code(world):
    coupon = DiscountFactory()
    promotion = PromotionCode.objects.create(discount=coupon, code=f"PROMO-{coupon.pk}")
    return [promotion.pk], {"confirm": "yes"}


def _active_promotion_codes():
    return list(PromotionCode.objects.order_by("pk").values_list("active", flat=True))


SCENARIOS = {
    ("billing.PromotionCode", "deactivate"): Scenario(
        _promotion_code, snapshot=_active_promotion_codes
    ),
    ("billing.Order", "action_mark_paid"): Scenario(_pending_order, amount=250_000),
    ("billing.Order", "action_cancel"): Scenario(_pending_order),
    # Opens the refund form (the URL table below covers the refund itself).
    ("billing.Order", "action_refund"): Scenario(
        lambda w: ([paid_order(w.customer, 1000).pk], {}),
        amount=1000,
        snapshot=lambda: None,
        done_check=lambda response: response["Location"].endswith("/refund/"),
    ),
    ("billing.Invoice", "action_finalize"): Scenario(
        lambda w: (
            [open_invoice(w.customer, 7900, status=InvoiceStatus.DRAFT).pk],
            {"confirm": "yes"},
        )
    ),
    ("billing.Invoice", "action_mark_paid"): Scenario(
        lambda w: ([open_invoice(w.customer, 150_000).pk], {"confirm": "yes"}), amount=150_000
    ),
    ("billing.Invoice", "action_void"): Scenario(
        lambda w: ([open_invoice(w.customer, 7900).pk], {"confirm": "yes"})
    ),
    ("billing.Invoice", "action_send"): Scenario(
        lambda w: ([open_invoice(w.customer, 7900).pk], {})
    ),
    # Opens the refund form (the URL table below covers the refund itself).
    ("billing.Invoice", "action_refund"): Scenario(
        lambda w: ([paid_invoice(w.customer, 7900).pk], {}),
        amount=7900,
        snapshot=lambda: None,
        done_check=lambda response: response["Location"].endswith("/refund/"),
    ),
    ("billing.Subscription", "action_cancel_now"): Scenario(
        lambda w: ([manual_subscription(w.customer).pk], {"confirm": "yes"})
    ),
    ("billing.Subscription", "action_cancel_at_end"): Scenario(
        lambda w: ([manual_subscription(w.customer).pk], {"confirm": "yes"})
    ),
    ("billing.Subscription", "action_comp_period"): Scenario(
        lambda w: ([manual_subscription(w.customer, price=7900).pk], {"confirm": "yes"}),
        amount=7900,
    ),
    ("billing.Subscription", "action_extend_trial"): Scenario(
        lambda w: (
            [manual_subscription(w.customer, status="TRIALING").pk],
            {"apply": "1", "days": "30"},
        ),
        amount=30,
    ),
    ("billing.Subscription", "action_issue_invoice"): Scenario(
        lambda w: ([manual_subscription(w.customer).pk], {})
    ),
    # Without Stripe keys the sync reports its failures: the report is the effect.
    ("billing.PlanSubscribers", "action_push_to_stripe"): Scenario(
        lambda w: ([manual_subscription(w.customer).plan_id], {}),
        snapshot=lambda: None,
        done_check=lambda response: said(response, "Pushed "),
    ),
    ("billing.PlanSubscribers", "action_pull_from_stripe"): Scenario(
        lambda w: ([manual_subscription(w.customer).plan_id], {}),
        snapshot=lambda: None,
        done_check=lambda response: said(response, "Stripe's catalog"),
    ),
    ("billing.WebhookEvent", "action_replay"): Scenario(_webhook_event),
    ("credits.CreditBalance", "adjust_credits"): Scenario(
        lambda w: ([_balance(w.customer)], {"apply": "1", "amount": "5000", "reason": "goodwill"}),
        amount=5000,
    ),
    ("support.Ticket", "assign_to_me"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.Ticket", "assign_to_agent"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.Ticket", "merge_tickets"): Scenario(_tickets, snapshot=_ticket_state),
    ("support.ApprovalRequest", "approve_selected"): Scenario(
        _pending_approval, snapshot=_approval_state, expected=_approval_decider
    ),
    ("support.ApprovalRequest", "reject_selected"): Scenario(
        _pending_approval, snapshot=_approval_state
    ),
    ("accounts.User", "suspend_users"): Scenario(
        lambda w: ([UserFactory().pk], {"confirm": "yes"})
    ),
    ("accounts.User", "reactivate_users"): Scenario(
        lambda w: ([UserFactory(status="SUSPENDED", is_active=False).pk], {"confirm": "yes"})
    ),
    ("accounts.User", "force_logout_users"): Scenario(
        lambda w: ([LoginSessionFactory(user=w.customer).user_id], {"confirm": "yes"})
    ),
    ("accounts.LoginSession", "revoke_selected"): Scenario(
        lambda w: ([LoginSessionFactory(user=w.customer).pk], {})
    ),
    ("accounts.ApiKey", "revoke_selected"): Scenario(
        lambda w: ([ApiKeyFactory(user=w.customer).pk], {})
    ),
    ("account.EmailAddress", "make_verified"): Scenario(_email_address, snapshot=_email_state),
    ("django_celery_beat.PeriodicTask", "enable_tasks"): Scenario(
        lambda w: _periodic_task(w, enabled=False), snapshot=_periodic_state
    ),
    ("django_celery_beat.PeriodicTask", "disable_tasks"): Scenario(
        _periodic_task, snapshot=_periodic_state
    ),
    ("django_celery_beat.PeriodicTask", "toggle_tasks"): Scenario(
        _periodic_task, snapshot=_periodic_state
    ),
    ("django_celery_beat.PeriodicTask", "run_tasks"): Scenario(
        _periodic_task,
        snapshot=_periodic_state,
        done_check=lambda response: said(response, "successfully run"),
    ),
    **{
        ("webhooks_out.WebhookEndpoint", name): Scenario(
            lambda w, name=name: _webhook_endpoint(w, active=name != "enable_endpoints"),
            snapshot=_webhook_endpoint_state,
        )
        for name in ("send_test_event", "enable_endpoints", "disable_endpoints", "rotate_secret")
    },
    ("webhooks_out.WebhookDelivery", "replay_deliveries"): Scenario(_webhook_delivery),
    ("helpbot_insights.UnansweredQuestion", "draft_article"): Scenario(
        _unanswered_question, snapshot=_article_count
    ),
    **{
        ("catalog.Product", name): Scenario(lambda w, name=name: ([_product(name)], {}))
        for name in (
            "publish",
            "archive",
            "unpublish",
            "feature",
            "unfeature",
            "duplicate",
            "soft_delete",
            "restore",
        )
    },
}


def _balance(customer):

    grant_credits(user=customer, amount=10, source="PROMO", idempotency_key=f"t-{customer.pk}")
    return customer.credit_balance.pk


def _product(action):

    if action == "publish":
        return DraftProductFactory().pk
    if action == "restore":
        return ProductFactory(deleted_at=timezone.now()).pk
    if action == "unpublish":
        return ProductFactory().pk
    return ProductFactory(featured=action == "unfeature").pk


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
    browser = browser_for(user)
    page = browser.get(changelist)
    offered = page.status_code == 200 and f'value="{name}"' in page.content.decode()
    before = scenario.snapshot()
    pending_before = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count()
    response = browser.post(
        changelist,
        {
            "action": name,
            "_selected_action": [str(pk) for pk in pks],
            "index": "0",
            "csrfmiddlewaretoken": csrf_token(browser),
            **extra,
        },
    )
    assert response.status_code in (200, 302, 403), response.status_code
    after = scenario.snapshot()
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count() - pending_before
    expected = expected_outcome(role, key, scenario)
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
