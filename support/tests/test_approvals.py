import pytest

from accounts.authority import NotAuthorized
from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from billing.errors import StaffActionRefused
from billing.factories import OrderFactory
from billing.models import BillingSource, OrderStatus, PaymentStatus
from core.models import AuditLog, SystemConfig
from credits.errors import AdjustmentBelowZero
from credits.selectors import balance_of
from support import approvals
from support.errors import ApprovalRefused, SelfApprovalRefused, UnknownAction
from support.models import ApprovalRequest, ApprovalStatus
from support.tests.helpers import approve_at_once

pytestmark = pytest.mark.django_db


def _request(agent, customer, amount, ticket=None):
    payload = {"user_id": customer.pk, "amount": amount, "reason": "goodwill"}
    return approvals.request_action(
        action_key="credits.adjust",
        payload=payload,
        amount=approvals.credits_amount(payload),
        requested_by=agent,
        ticket=ticket,
    )


def test_small_adjustment_runs_at_once(support_agent, customer, ticket):
    approval = _request(support_agent, customer, 500, ticket)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert approval.approved_by is None
    assert approval.result["balance_after"] == 500
    assert balance_of(user=customer) == 500


def test_large_adjustment_waits_and_the_requester_cannot_approve_it(
    support_agent, admin_user, customer
):
    approval = _request(support_agent, customer, 5000)
    assert approval.status == ApprovalStatus.PENDING
    assert balance_of(user=customer) == 0

    with pytest.raises(SelfApprovalRefused) as excinfo:
        approvals.approve(approval=approval, approver=support_agent)
    assert excinfo.value.code == "self_approval_refused"
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.approved_by is None
    assert balance_of(user=customer) == 0

    approvals.approve(approval=approval, approver=admin_user)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert approval.approved_by == admin_user
    assert balance_of(user=customer) == 5000
    with pytest.raises(ApprovalRefused):
        approvals.approve(approval=approval, approver=StaffFactory())
    assert balance_of(user=customer) == 5000


def test_threshold_is_a_system_setting(support_agent, customer):
    SystemConfig.objects.create(key="support_credit_approval_threshold", value=10)
    assert _request(support_agent, customer, 11).status == ApprovalStatus.PENDING
    assert _request(support_agent, customer, 10).status == ApprovalStatus.EXECUTED
    assert _request(support_agent, customer, -10).status == ApprovalStatus.EXECUTED
    assert _request(support_agent, customer, -11).status == ApprovalStatus.PENDING
    assert balance_of(user=customer) == 0


def test_rejected_request_never_runs(support_agent, admin_user, customer):
    approval = _request(support_agent, customer, 5000)
    approvals.reject(approval=approval, approver=admin_user, reason="too much")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED
    with pytest.raises(ApprovalRefused):
        approvals.approve(approval=approval, approver=admin_user)
    assert balance_of(user=customer) == 0


def test_customers_cannot_request_or_approve(customer, support_agent):
    with pytest.raises(NotAuthorized):
        _request(customer, customer, 10)
    approval = _request(support_agent, customer, 5000)
    with pytest.raises(NotAuthorized):
        approvals.approve(approval=approval, approver=customer)
    assert not ApprovalRequest.objects.filter(status=ApprovalStatus.EXECUTED).exists()


def test_unknown_action_is_refused(support_agent):
    with pytest.raises(UnknownAction):
        approvals.request_action(
            action_key="nope", payload={}, amount=1, requested_by=support_agent
        )
    assert not ApprovalRequest.objects.exists()


def test_failed_execution_keeps_nothing(support_agent, customer):
    # Removing credits the customer does not have: the adjustment refuses, nothing is kept.

    with pytest.raises(AdjustmentBelowZero):
        _request(support_agent, customer, -5)
    assert not ApprovalRequest.objects.exists()


def test_self_approval_refused_in_the_staff_console(client, support_agent, customer, ticket):
    client.force_login(support_agent)
    response = client.post(
        f"/admin/support/ticket/{ticket.pk}/credits/",
        {"amount": 5000, "reason": "outage"},
        follow=True,
    )
    assert "waiting for a second staff member" in response.content.decode()
    approval = ApprovalRequest.objects.get()
    assert approval.ticket == ticket and approval.status == ApprovalStatus.PENDING
    response = client.post(
        "/admin/support/approvalrequest/",
        {"action": "approve_selected", "_selected_action": [approval.pk]},
        follow=True,
    )
    assert "cannot approve your own request" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert balance_of(user=customer) == 0


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_execute_the_action_once():
    # Both approvers' limits cover the request: only the race decides who runs it.
    requester, first, second = StaffFactory(), FinanceFactory(), AdminFactory()
    customer = UserFactory()
    approval = _request(requester, customer, 5000)
    assert approve_at_once(approval, [first, second]) == ["approval_not_pending", "ok"]
    assert balance_of(user=customer) == 5000


def _paid_order(user, total=5000):
    return OrderFactory(
        user=user,
        subtotal=total,
        status=OrderStatus.COMPLETED,
        payment_status=PaymentStatus.SUCCEEDED,
        billing_source=BillingSource.MANUAL,
    )


def test_refund_from_the_ticket_page_within_threshold_runs_and_is_linked(
    client, support_agent, customer, ticket
):
    order = _paid_order(customer)
    client.force_login(support_agent)
    response = client.post(
        f"/admin/support/ticket/{ticket.pk}/refund/",
        {"order": order.pk, "amount": "15.00", "reason": "REQUESTED_BY_CUSTOMER"},
        follow=True,
    )
    assert f"Refund of $15.00 issued on {order.number}." in response.content.decode()
    order.refresh_from_db()
    assert order.refunded_amount == 1500
    approval = ApprovalRequest.objects.get()
    assert approval.status == ApprovalStatus.EXECUTED and approval.ticket == ticket
    assert approval.currency == order.currency
    assert AuditLog.objects.filter(action="APPROVAL", context__ticket_id=ticket.pk).exists()


def test_large_refund_needs_a_second_staff_member(support_agent, admin_user, customer, ticket):
    SystemConfig.objects.create(key="support_approval_threshold", value=1000)
    order = _paid_order(customer)
    payload = {"user_id": customer.pk, "order_id": order.pk, "amount": 4000, "reason": "DUPLICATE"}
    approval = approvals.request_action(
        action_key="billing.refund",
        payload=payload,
        amount=4000,
        requested_by=support_agent,
        ticket=ticket,
    )
    assert approval.status == ApprovalStatus.PENDING
    with pytest.raises(SelfApprovalRefused):
        approvals.approve(approval=approval, approver=support_agent)
    order.refresh_from_db()
    assert order.refunded_amount == 0
    approvals.approve(approval=approval, approver=admin_user)
    order.refresh_from_db()
    assert order.refunded_amount == 4000


def test_refund_of_another_customers_order_is_refused(
    client, support_agent, customer, other_customer, ticket
):
    order = _paid_order(other_customer)
    client.force_login(support_agent)
    response = client.post(
        f"/admin/support/ticket/{ticket.pk}/refund/",
        {"order": order.pk, "amount": "1.00", "reason": "OTHER"},
        follow=True,
    )
    assert "does not belong to this customer" in response.content.decode()
    order.refresh_from_db()
    assert order.refunded_amount == 0
    assert not ApprovalRequest.objects.exists()
    with pytest.raises(StaffActionRefused) as refused:
        approvals.request_action(
            action_key="billing.refund",
            requested_by=support_agent,
            amount=100,
            payload={
                "user_id": customer.pk,
                "order_id": order.pk,
                "amount": 100,
                "reason": "OTHER",
            },
        )
    assert refused.value.code == "order_not_customers" and refused.value.status_code == 400
    assert not ApprovalRequest.objects.exists()


def test_approving_a_request_already_executed_says_so_and_does_nothing(
    client, support_agent, finance_user, customer
):
    approval = _request(support_agent, customer, 5000)
    client.force_login(finance_user)
    changelist = "/admin/support/approvalrequest/"
    first = client.post(
        changelist, {"action": "approve_selected", "_selected_action": [approval.pk]}, follow=True
    )
    assert f"#{approval.pk} approved and executed." in first.content.decode()
    again = client.post(
        changelist, {"action": "approve_selected", "_selected_action": [approval.pk]}, follow=True
    )
    assert f"#{approval.pk} is already executed: nothing was done." in again.content.decode()
    assert balance_of(user=customer) == 5000
