""" "Extend a trial" from the ticket's billing panel: through billing's own service and the
same second-approver rule as refunds and credit adjustments."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from billing.errors import StaffActionRefused
from billing.factories import SubscriptionFactory
from billing.models import (
    BillingSource,
    CustomerBillingProfile,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from billing.services.subscriptions.lifecycle import extend_trial
from billing.stripe.sync import ensure_stripe_price
from billing.tests.subscription_helpers import stripe_subscription
from catalog.factories import PlanFactory
from core.models import AuditLog, SystemConfig
from support import approvals
from support.errors import ApprovalRefused, SelfApprovalRefused
from support.models import ApprovalRequest, ApprovalStatus
from support.tests.helpers import approve_at_once

EXTEND_TRIAL = "billing.subscription.extend_trial"

pytestmark = pytest.mark.django_db

S = SubscriptionStatus


def _trialing(user, *, days_left=5, **kwargs):
    now = timezone.now()
    kwargs.setdefault("billing_source", BillingSource.MANUAL)
    return SubscriptionFactory(
        user=user,
        status=S.TRIALING,
        trial_start=now - timedelta(days=9),
        trial_end=now + timedelta(days=days_left),
        current_period_start=now - timedelta(days=9),
        current_period_end=now + timedelta(days=days_left),
        **kwargs,
    )


def _post(client, ticket, **data):
    return client.post(
        f"/admin/support/ticket/{ticket.pk}/extend-trial/",
        {"reason": "outage during the trial", **data},
        follow=True,
    )


def _payload(customer, subscription, days):
    return {
        "user_id": customer.pk,
        "subscription_id": subscription.pk,
        "days": days,
        "trial_end": subscription.trial_end.isoformat(),
        "reason": "goodwill",
    }


def _extensions(subscription):
    return SubscriptionEvent.objects.filter(
        subscription=subscription, type=SubscriptionEvent.Type.TRIAL_EXTENDED
    )


def _assert_nothing_changed(subscription, trial_end):
    subscription.refresh_from_db()
    assert subscription.trial_end == trial_end
    assert not _extensions(subscription).exists()
    assert not AuditLog.objects.filter(
        resource_type="billing.Subscription", context__operation="extend_trial"
    ).exists()


def test_short_extension_from_the_ticket_page_runs_at_once_and_links_the_ticket(
    client, support_agent, customer, ticket
):
    subscription = _trialing(customer)
    trial_end = subscription.trial_end
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=subscription.pk, days=5)

    assert response.status_code == 200
    assert "Trial extended by 5 days." in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.trial_end == trial_end + timedelta(days=5)
    assert subscription.status == S.TRIALING
    event = _extensions(subscription).get()
    assert (event.source, event.actor, event.payload) == ("staff", support_agent, {"days": 5})
    billing_audit = AuditLog.objects.get(
        resource_type="billing.Subscription",
        resource_id=str(subscription.pk),
        context__operation="extend_trial",
    )
    assert billing_audit.actor == support_agent
    assert billing_audit.new_values == {"trial_end": subscription.trial_end.isoformat()}

    approval = ApprovalRequest.objects.get()
    assert approval.action_key == "billing.subscription.extend_trial"
    assert approval.status == ApprovalStatus.EXECUTED and approval.approved_by is None
    assert approval.ticket == ticket and approval.amount == 5
    assert approval.reason == "outage during the trial"
    assert approval.result["trial_end"] == subscription.trial_end.isoformat()
    assert AuditLog.objects.filter(
        action="APPROVAL",
        resource_id=str(approval.pk),
        context__ticket_id=ticket.pk,
        context__approval_action=EXTEND_TRIAL,
        new_values__status="executed",
    ).exists()


def test_long_extension_waits_and_the_requester_cannot_approve_it(
    client, support_agent, admin_user, customer, ticket
):
    subscription = _trialing(customer)
    trial_end = subscription.trial_end
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=subscription.pk, days=30)
    assert "waiting for a second staff member" in response.content.decode()
    approval = ApprovalRequest.objects.get()
    assert approval.status == ApprovalStatus.PENDING and approval.ticket == ticket
    _assert_nothing_changed(subscription, trial_end)
    assert (
        f"#{approval.pk} Extend a trial · 30 days · Pending"
        in client.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    )

    response = client.post(
        "/admin/support/approvalrequest/",
        {"action": "approve_selected", "_selected_action": [approval.pk]},
        follow=True,
    )
    assert "cannot approve your own request" in response.content.decode()
    with pytest.raises(SelfApprovalRefused):
        approvals.approve(approval=approval, approver=support_agent)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.approved_by is None
    _assert_nothing_changed(subscription, trial_end)

    approvals.approve(approval=approval, approver=admin_user)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED and approval.approved_by == admin_user
    subscription.refresh_from_db()
    assert subscription.trial_end == trial_end + timedelta(days=30)
    assert _extensions(subscription).get().actor == admin_user
    assert AuditLog.objects.filter(
        resource_type="billing.Subscription", context__operation="extend_trial", actor=admin_user
    ).exists()
    assert AuditLog.objects.filter(
        action="APPROVAL",
        resource_id=str(approval.pk),
        context__ticket_id=ticket.pk,
        actor=admin_user,
        new_values__status="executed",
    ).exists()
    # Decided once: approving again is refused and extends nothing more.
    with pytest.raises(ApprovalRefused):
        approvals.approve(approval=approval, approver=admin_user)
    subscription.refresh_from_db()
    assert subscription.trial_end == trial_end + timedelta(days=30)


def test_threshold_is_a_system_setting_in_days(support_agent, customer, ticket):
    subscription = _trialing(customer)
    SystemConfig.objects.create(key="support_trial_approval_threshold_days", value=0)
    approval = approvals.request_action(
        action_key=EXTEND_TRIAL,
        payload=_payload(customer, subscription, 1),
        amount=1,
        requested_by=support_agent,
        ticket=ticket,
    )
    assert approval.status == ApprovalStatus.PENDING
    _assert_nothing_changed(subscription, subscription.trial_end)


def test_another_customers_subscription_is_refused(
    client, support_agent, customer, other_customer, ticket
):
    theirs = _trialing(other_customer)
    trial_end = theirs.trial_end
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=theirs.pk, days=3)

    assert "does not belong to this customer" in response.content.decode()
    _assert_nothing_changed(theirs, trial_end)
    assert not ApprovalRequest.objects.exists()
    # The approval refuses it too, whoever builds the payload.
    with pytest.raises(StaffActionRefused) as excinfo:
        approvals.request_action(
            action_key=EXTEND_TRIAL,
            payload=_payload(customer, theirs, 3),
            amount=3,
            requested_by=support_agent,
            ticket=ticket,
        )
    assert excinfo.value.code == "subscription_not_customers"
    _assert_nothing_changed(theirs, trial_end)
    assert not ApprovalRequest.objects.exists()


def test_a_subscription_not_in_a_trial_is_refused_with_a_clear_error(
    client, support_agent, customer, ticket
):
    active = SubscriptionFactory(
        user=customer, status=S.ACTIVE, billing_source=BillingSource.MANUAL
    )
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=active.pk, days=3)

    html = response.content.decode()
    assert f"Subscription #{active.pk} is Active, not in a trial" in html
    assert "only a trialing subscription can have its trial extended" in html
    active.refresh_from_db()
    assert active.trial_end is None and not _extensions(active).exists()
    assert not ApprovalRequest.objects.exists()


@pytest.mark.parametrize(
    "days,error",
    [
        ("0", "greater than or equal to 1"),
        ("-4", "greater than or equal to 1"),
        ("91", "less than or equal to 90"),
        ("seven", "Enter a whole number"),
        ("", "This field is required"),
    ],
)
def test_bad_days_are_refused_on_the_page_and_change_nothing(
    client, support_agent, customer, ticket, days, error
):
    subscription = _trialing(customer)
    trial_end = subscription.trial_end
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=subscription.pk, days=days)

    html = response.content.decode()
    assert "Could not extend the trial. Days:" in html and error in html
    _assert_nothing_changed(subscription, trial_end)
    assert not ApprovalRequest.objects.exists()


def test_a_reason_is_required(client, support_agent, customer, ticket):
    subscription = _trialing(customer)
    client.force_login(support_agent)
    response = _post(client, ticket, subscription=subscription.pk, days=3, reason="")
    assert (
        "Could not extend the trial. Reason: This field is required." in response.content.decode()
    )
    _assert_nothing_changed(subscription, subscription.trial_end)
    assert not ApprovalRequest.objects.exists()


@pytest.mark.parametrize("days", [0, 91, "3", True, None])
def test_the_approval_refuses_bad_days_in_a_payload(support_agent, customer, days):
    subscription = _trialing(customer)
    payload = {**_payload(customer, subscription, 3), "days": days}
    with pytest.raises(StaffActionRefused) as excinfo:
        approvals.request_action(
            action_key=EXTEND_TRIAL, payload=payload, amount=1, requested_by=support_agent
        )
    assert excinfo.value.code == "invalid_trial_days"
    _assert_nothing_changed(subscription, subscription.trial_end)
    assert not ApprovalRequest.objects.exists()


def test_a_request_approved_after_the_trial_moved_is_refused_and_extends_nothing(
    support_agent, admin_user, customer, ticket
):
    subscription = _trialing(customer)
    approval = approvals.request_action(
        action_key=EXTEND_TRIAL,
        payload=_payload(customer, subscription, 20),
        amount=20,
        requested_by=support_agent,
        ticket=ticket,
    )
    extend_trial(subscription=subscription, days=2, actor=admin_user)  # from billing's admin
    subscription.refresh_from_db()
    moved_end = subscription.trial_end

    with pytest.raises(StaffActionRefused) as excinfo:
        approvals.approve(approval=approval, approver=admin_user)

    assert excinfo.value.code == "trial_changed"
    assert "kept pending" in " ".join(excinfo.value.__notes__)
    subscription.refresh_from_db()
    assert subscription.trial_end == moved_end and _extensions(subscription).count() == 1
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.approved_by is None
    assert AuditLog.objects.filter(
        action="APPROVAL",
        resource_id=str(approval.pk),
        context__failed="trial_changed",
        context__ticket_id=ticket.pk,
    ).exists()
    approvals.reject(approval=approval, approver=admin_user, reason="stale")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED


def test_page_offers_the_customers_trials_and_an_empty_state(
    client, support_agent, customer, other_customer, ticket
):
    SubscriptionFactory(user=customer, status=S.ACTIVE)
    theirs = _trialing(other_customer)
    client.force_login(support_agent)
    url = f"/admin/support/ticket/{ticket.pk}/change/"

    html = client.get(url).content.decode()
    assert "Extend a trial" in html
    assert "No trialing subscription: this customer has no trial to extend." in html
    assert f"/admin/support/ticket/{ticket.pk}/extend-trial/" not in html

    mine = _trialing(customer)
    html = client.get(url).content.decode()
    assert f"/admin/support/ticket/{ticket.pk}/extend-trial/" in html
    assert f'<option value="{mine.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html
    assert 'name="days" min="1" max="90"' in html
    assert "more than 7 days needs a second approver" in html
    assert "No trialing subscription" not in html


def test_customers_cannot_use_the_staff_form(client, customer, ticket):
    subscription = _trialing(customer)
    client.force_login(customer)
    response = _post(client, ticket, subscription=subscription.pk, days=5)
    assert response.status_code == 200 and "/admin/login/" in response.redirect_chain[0][0]
    _assert_nothing_changed(subscription, subscription.trial_end)
    assert not ApprovalRequest.objects.exists()


# --- Stripe-managed trials (against billing's local Stripe double) -----------------------


@pytest.fixture
def stripe_trial(stripe_double, customer):
    plan = PlanFactory(slug="pro")
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_T")
    price_id = ensure_stripe_price(plan.monthly_price)
    trial_end = (timezone.now() + timedelta(days=4)).replace(microsecond=0)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=S.TRIALING,
        billing_source=BillingSource.STRIPE,
        stripe_subscription_id="sub_T",
        trial_start=trial_end - timedelta(days=14),
        trial_end=trial_end,
        current_period_start=trial_end - timedelta(days=14),
        current_period_end=trial_end,
    )
    stripe_subscription(
        stripe_double,
        sub_id="sub_T",
        customer="cus_T",
        price_id=price_id,
        status="trialing",
        trial_end=int(trial_end.timestamp()),
        start=int((trial_end - timedelta(days=14)).timestamp()),
        end=int(trial_end.timestamp()),
        metadata={"subscription_id": str(local.pk)},
    )
    return local


def _stripe_trial_updates(stripe_double):
    return [
        call
        for call in stripe_double.calls("POST", "/v1/subscriptions/sub_T")
        if "trial_end" in call.params
    ]


def test_stripe_managed_trial_is_extended_on_stripe_after_approval(
    stripe_double, stripe_trial, support_agent, admin_user, customer, ticket
):
    old_end = stripe_trial.trial_end
    approval = approvals.request_action(
        action_key=EXTEND_TRIAL,
        payload=_payload(customer, stripe_trial, 10),
        amount=10,
        requested_by=support_agent,
        ticket=ticket,
    )
    assert approval.status == ApprovalStatus.PENDING
    assert _stripe_trial_updates(stripe_double) == []

    approvals.approve(approval=approval, approver=admin_user)

    (call,) = _stripe_trial_updates(stripe_double)
    assert int(call.params["trial_end"]) == int((old_end + timedelta(days=10)).timestamp())
    assert call.params["proration_behavior"] == "none"
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED and approval.approved_by == admin_user
    event = _extensions(stripe_trial).get()
    assert (event.source, event.actor, event.payload) == ("staff", admin_user, {"days": 10})
    # Our row follows Stripe's answer: the double applies trial_end as Stripe does.
    stripe_trial.refresh_from_db()
    assert stripe_trial.trial_end == old_end + timedelta(days=10)
    assert stripe_trial.current_period_end == old_end + timedelta(days=10)
    assert stripe_trial.status == "TRIALING"


def test_stripe_refusal_keeps_the_request_pending_for_a_second_staff_member_to_retry(
    client, stripe_double, stripe_trial, support_agent, admin_user, customer, ticket
):
    old_end = stripe_trial.trial_end
    stripe_double.fail_next.append(
        (400, {"error": {"type": "invalid_request_error", "message": "Try again later"}})
    )
    client.force_login(support_agent)

    response = _post(client, ticket, subscription=stripe_trial.pk, days=3)

    html = response.content.decode()
    approval = ApprovalRequest.objects.get()
    assert f"Request #{approval.pk} is kept pending" in html
    assert approval.status == ApprovalStatus.PENDING and approval.approved_by is None
    assert len(_stripe_trial_updates(stripe_double)) == 1
    _assert_nothing_changed(stripe_trial, old_end)
    assert AuditLog.objects.filter(
        action="APPROVAL",
        resource_id=str(approval.pk),
        context__ticket_id=ticket.pk,
        new_values__status="pending",
        context__failed__isnull=False,
    ).exists()
    with pytest.raises(SelfApprovalRefused):
        approvals.approve(approval=approval, approver=support_agent)

    approvals.approve(approval=approval, approver=admin_user)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    calls = _stripe_trial_updates(stripe_double)
    assert len(calls) == 2
    assert int(calls[1].params["trial_end"]) == int((old_end + timedelta(days=3)).timestamp())
    assert _extensions(stripe_trial).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_extend_the_trial_once():
    # Both approvers' limits cover the request: only the race decides who runs it.
    requester, first, second = StaffFactory(), FinanceFactory(), AdminFactory()
    customer = UserFactory()
    subscription = _trialing(customer)
    trial_end = subscription.trial_end
    approval = approvals.request_action(
        action_key=EXTEND_TRIAL,
        payload=_payload(customer, subscription, 30),
        amount=30,
        requested_by=requester,
    )
    assert approve_at_once(approval, [first, second]) == ["approval_not_pending", "ok"]
    subscription.refresh_from_db()
    assert subscription.trial_end == trial_end + timedelta(days=30)
    assert _extensions(subscription).count() == 1
