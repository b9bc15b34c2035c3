"""Staff authority, service by service: each policy action's service called directly with each
role as the actor answers as the policy table says, whatever page, API or task calls it.

Every action in accounts.authority.POLICY has a row here (a new action without one fails),
either a service call or the admin permission that stands for it.
"""

import re

import pytest
from django.contrib import admin

from accounts import authority
from accounts.factories import FinanceFactory, StaffFactory, UserFactory
from accounts.models import Role
from accounts.services import change_role, change_status, force_logout, set_config, update_profile
from backoffice.policy import PolicyAdminMixin
from billing.factories import (
    DiscountFactory,
    OrderFactory,
    OrderItemFactory,
    WebhookEventFactory,
)
from billing.models import Invoice, InvoiceStatus, PromotionCode
from billing.services import invoices, payments, promotion_codes, refunds
from billing.services.subscriptions import lifecycle as subscriptions
from billing.stripe import inbox, sync
from catalog.factories import DraftProductFactory
from catalog.services import publish_product
from core.models import AuditLog
from core.system_config import REGISTRY
from credits.selectors import balance_of
from credits.services import adjust_credits, claw_back_grant, grant_credits
from helpbot_insights.services import draft_article
from support import approvals
from support.approvals import reject
from support.errors import ApprovalRefused
from support.factories import ConversationFactory, TicketFactory
from support.models import ApprovalRequest, ChatMessage
from support.services import add_internal_note
from tests.staff_authority_table import (
    APPROVAL,
    DONE,
    FACTORY,
    REFUSED,
    ROLES,
    manual_subscription,
    open_invoice,
    paid_order,
)
from webhooks_out import events
from webhooks_out import services as webhooks
from webhooks_out.models import WebhookEndpoint

STAFF_ROLES = [Role.ADMIN, Role.FINANCE, Role.SUPPORT]


def _pending_order(customer, total=250_000):
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, unit_amount=total)
    return order


def _claw_back(customer, actor):

    grant_credits(user=customer, amount=500, source="PURCHASE", idempotency_key="grant-1")
    return claw_back_grant(
        user=customer,
        grant_idempotency_key="grant-1",
        amount=100,
        reason="refund",
        actor=actor,
        idempotency_key="claw-1",
    )


def _adjust(customer, actor):

    return adjust_credits(user=customer, amount=5000, reason="goodwill", actor=actor)


def _set_config(customer, actor):

    return set_config(key="support_email", value="help@example.com", actor=actor)


def _change_role(customer, actor):

    return change_role(user=customer, role=Role.SUPPORT, actor=actor)


def _change_status(customer, actor):

    return change_status(user=customer, status="SUSPENDED", actor=actor, reason="table")


def _edit_profile(customer, actor):

    return update_profile(user=customer, data={"first_name": "Renamed"}, actor=actor)


def _force_logout(customer, actor):

    return force_logout(user=customer, actor=actor)


def _publish(customer, actor):

    return publish_product(product=DraftProductFactory(), actor=actor)


def _ticket_note(customer, actor):

    return add_internal_note(ticket=TicketFactory(customer=customer), author=actor, body="A note")


def _decide(customer, actor):

    approval = ApprovalRequest.objects.create(
        action_key="credits.adjust",
        amount=5000,
        requested_by=StaffFactory(),
        payload={"user_id": customer.pk, "amount": 5000, "reason": "goodwill"},
    )
    return reject(approval=approval, approver=actor)


def _draft_invoice(customer):
    return open_invoice(customer, 7900, status=InvoiceStatus.DRAFT)


def _register_endpoint(customer, actor):

    return webhooks.register(
        url="https://hooks.example.com/billing", event_types=["order.paid"], actor=actor
    )


def _replay_delivery(customer, actor):

    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/billing", event_types=["order.paid"], active=False
    )
    event = events.emit("order.paid", {"id": 1}, endpoints=[endpoint])
    return webhooks.replay(event.deliveries.get(), actor=actor)


def _draft_article(customer, actor):

    conversation = ConversationFactory(customer=customer)
    ChatMessage.objects.create(conversation=conversation, role="customer", body="SAML?")
    answer = ChatMessage.objects.create(
        conversation=conversation, role="bot", body="?", answered=False
    )
    return draft_article(answer=answer, actor=actor)


# action -> (call(customer, actor), amount the policy sizes it by)
SERVICE_CALLS = {
    "billing.order.mark_paid": (
        lambda c, a: payments.mark_paid_manually(order_id=_pending_order(c).pk, actor=a),
        250_000,
    ),
    "billing.order.cancel": (
        lambda c, a: payments.cancel_order(order_id=_pending_order(c).pk, actor=a, reason="table"),
        None,
    ),
    "billing.invoice.mark_paid": (
        lambda c, a: invoices.mark_invoice_paid(
            invoice_id=open_invoice(c, 150_000).pk, actor=a, reference="BANK-1"
        ),
        150_000,
    ),
    "billing.invoice.finalize": (
        lambda c, a: invoices.finalize_invoice(invoice_id=_draft_invoice(c).pk, actor=a),
        None,
    ),
    "billing.invoice.send": (
        lambda c, a: invoices.send_invoice(invoice_id=open_invoice(c, 7900).pk, actor=a),
        None,
    ),
    "billing.invoice.void": (
        lambda c, a: invoices.void_invoice(invoice_id=open_invoice(c, 7900).pk, actor=a),
        None,
    ),
    "billing.invoice.issue": (
        lambda c, a: invoices.issue_period_invoice(subscription=manual_subscription(c), actor=a),
        None,
    ),
    "billing.refund": (
        lambda c, a: refunds.create_refund(
            order_id=paid_order(c, 150_000).pk,
            amount=150_000,
            reason="REQUESTED_BY_CUSTOMER",
            actor=a,
        ),
        150_000,
    ),
    "billing.subscription.comp_period": (
        lambda c, a: subscriptions.comp_period(
            subscription=manual_subscription(c, price=7900), actor=a
        ),
        7900,
    ),
    "billing.subscription.cancel_now": (
        lambda c, a: subscriptions.cancel(
            subscription=manual_subscription(c), at_period_end=False, actor=a
        ),
        None,
    ),
    "billing.subscription.cancel_at_end": (
        lambda c, a: subscriptions.cancel(
            subscription=manual_subscription(c), at_period_end=True, actor=a
        ),
        None,
    ),
    "billing.subscription.extend_trial": (
        lambda c, a: subscriptions.extend_trial(
            subscription=manual_subscription(c, status="TRIALING"), days=30, actor=a
        ),
        30,
    ),
    "credits.adjust": (_adjust, 5000),
    "credits.claw_back": (_claw_back, None),
    "billing.webhook.replay": (
        lambda c, a: inbox.replay(event_ids=[WebhookEventFactory(status="PROCESSED").pk], actor=a),
        None,
    ),
    "billing.stripe.sync": (lambda c, a: sync.push_products(products=[], actor=a), None),
    "billing.promotion_code.deactivate": (
        lambda c, a: promotion_codes.deactivate(
            PromotionCode.objects.create(discount=DiscountFactory(), code="PROMO-OFF"), actor=a
        ),
        None,
    ),
    "config.change": (_set_config, None),
    "accounts.user.change_role": (_change_role, None),
    "accounts.user.change_status": (_change_status, None),
    "accounts.user.edit_profile": (_edit_profile, None),
    "accounts.user.end_sessions": (_force_logout, None),
    "catalog.manage": (_publish, None),
    "support.ticket.work": (_ticket_note, None),
    "support.approval.decide": (_decide, None),
    "support.article.draft": (_draft_article, None),
    "webhooks.endpoint.manage": (_register_endpoint, None),
    "webhooks.delivery.replay": (_replay_delivery, None),
}

# Actions that are the admin's own forms: the model permission is what stands for them.
ADMIN_PERMISSIONS = {
    "billing.discount.change": ("billing", "discount"),
    "credits.costs.change": ("credits", "featurecost"),
    "analytics.view_revenue": ("analytics", "dailymetric"),
}
# Third-party admin actions (their own code, gated in the admin) and page-only actions.
ADMIN_ONLY = {
    "accounts.email.verify": "allauth's admin action; tests/test_staff_authority.py",
    "system.schedules": "django-celery-beat's admin actions; tests/test_staff_authority.py",
    "analytics.export_revenue": "the dashboard's CSV export URL; tests/test_staff_authority.py",
    "system.ops.view": "the /ops/ page; config/ops/tests/test_ops_page.py",
    "console.customer.view": "the customer page; console/tests/test_customer_page.py",
    "console.export": "the accounting exports; console/tests/test_exports.py",
    "console.preferences": "a staff member's own time zone; console/tests/test_readable.py",
}


def test_every_policy_action_has_a_row_here():
    rows = set(SERVICE_CALLS) | set(ADMIN_PERMISSIONS) | set(ADMIN_ONLY)
    assert sorted(set(authority.POLICY) - rows) == []
    assert sorted(rows - set(authority.POLICY)) == []


def _expected(role, key, amount):
    actor = type("Actor", (), {"role": role, "is_active": True})()
    if not authority.may(actor, key):
        return REFUSED
    return DONE if authority.decide(actor, key, amount) == authority.ALLOWED else APPROVAL


def _cells():
    return [pytest.param(key, role, id=f"{key}-{role}") for key in SERVICE_CALLS for role in ROLES]


@pytest.mark.django_db
@pytest.mark.parametrize("key, role", _cells())
def test_service_as_each_role(key, role, settings):
    settings.STRIPE_SECRET_KEY = ""  # nothing leaves the machine

    call, amount = SERVICE_CALLS[key]
    customer = UserFactory()
    actor = FACTORY[role]()
    expected = _expected(role, key, amount)
    if expected == DONE:
        call(customer, actor)
        return
    # A customer may meet an earlier refusal of the service's own (e.g. support's
    # "staff only"); staff meet the policy's.
    customer_codes = {"not_authorized", "staff_only", "permission_denied"}
    codes = (
        {"approval_required"}
        if expected == APPROVAL
        else (customer_codes if role == Role.CUSTOMER else {"not_authorized"})
    )
    with pytest.raises(Exception) as refused:
        call(customer, actor)
    assert getattr(refused.value, "code", repr(refused.value)) in codes
    # The refused call wrote nothing in the actor's name.
    assert not AuditLog.objects.filter(actor=actor).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(ADMIN_PERMISSIONS))
def test_admin_form_permissions_follow_the_policy(key):
    app_label, model_name = ADMIN_PERMISSIONS[key]
    for role in ROLES:
        user = FACTORY[role]()
        allowed = authority.may(user, key)
        perm = "view" if key == "analytics.view_revenue" else "change"
        assert user.has_perm(f"{app_label}.{perm}_{model_name}") == allowed, (key, role)


@pytest.mark.django_db
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_menus_show_only_what_the_role_may_use(role, client):
    """The admin index links into an app only when the role may use something in it (and
    the app is part of the console: sign-in lockouts and sites are not)."""
    user = FACTORY[role]()
    client.force_login(user)
    index = client.get("/admin/").content.decode()
    for app_label in ("analytics", "axes", "django_celery_beat", "sites", "billing"):
        shown = f'href="/admin/{app_label}/' in index
        in_console = app_label in ("analytics", "django_celery_beat", "billing")
        assert shown == (in_console and user.has_module_perms(app_label)), (role, app_label)
    # dj-stripe is only its read-only "Stripe mirror" group: none of its own pages.
    from billing.stripe.mirror import MIRRORED  # noqa: PLC0415 - why: the comment above

    mirrored = {name.lower() for name in MIRRORED.values()}
    linked = set(re.findall(r'href="/admin/djstripe/([a-z]+)/', index))
    assert linked <= mirrored, linked - mirrored


@pytest.mark.django_db
def test_an_approved_request_acts_once_and_names_both_people(customer):
    """Executing the same approval twice acts once; the audit trail names requester and
    approver."""

    requester, approver = StaffFactory(), FinanceFactory()
    approval = authority.perform(
        action="credits.adjust",
        actor=requester,
        amount=5000,
        payload={"user_id": customer.pk, "amount": 5000, "reason": "goodwill"},
    )
    assert approval.status == "pending" and balance_of(user=customer) == 0
    with pytest.raises(authority.ApprovalRequired):
        _adjust(customer, requester)  # the service itself refuses the requester alone
    approvals.approve(approval=approval, approver=approver)
    with pytest.raises(ApprovalRefused):
        approvals.approve(approval=approval, approver=FACTORY[Role.ADMIN]())
    assert balance_of(user=customer) == 5000
    trail = AuditLog.objects.filter(
        resource_type="support.ApprovalRequest", resource_id=str(approval.pk)
    )
    assert {row.actor_id for row in trail} == {requester.pk, approver.pk}


@pytest.mark.django_db
def test_support_cannot_approve_above_their_own_limit(customer):

    approval = authority.perform(
        action="credits.adjust",
        actor=StaffFactory(),
        amount=5000,
        payload={"user_id": customer.pk, "amount": 5000, "reason": "goodwill"},
    )
    with pytest.raises(ApprovalRefused) as refused:
        approvals.approve(approval=approval, approver=StaffFactory())
    assert refused.value.code == "approval_limit"
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_the_policy_reads_its_limits_from_settings():
    for rule in authority.POLICY.values():
        assert Role.ADMIN in rule.limits
        assert rule.limits[Role.ADMIN] is None  # admins act alone on any amount
        for key in rule.limits.values():
            if key is not None:
                assert key in REGISTRY, key


@pytest.mark.django_db
def test_system_calls_pass_and_customers_act_on_their_own():
    """``actor=None`` is the system (webhooks, tasks); a customer may cancel their own
    subscription but not another's."""

    customer, stranger = UserFactory(), UserFactory()
    own = manual_subscription(customer)
    subscriptions.cancel(subscription=own, at_period_end=True, actor=customer)
    with pytest.raises(authority.NotAuthorized):
        subscriptions.cancel(
            subscription=manual_subscription(customer), at_period_end=True, actor=stranger
        )
    own.refresh_from_db()
    assert own.cancel_at_period_end
    invoice = open_invoice(customer, 100)
    invoices.void_invoice(invoice_id=invoice.pk, actor=None)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VOID


def test_no_model_admin_bypasses_the_site():

    assert all(
        isinstance(model_admin, PolicyAdminMixin) for model_admin in admin.site._registry.values()
    )
