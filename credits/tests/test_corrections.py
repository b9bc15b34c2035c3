"""Taking credits back, refunding a consumption and staff corrections (credits.corrections,
called through credits.services as every caller does)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.factories import UserFactory
from core.models import AuditAction, AuditLog
from credits import services
from credits.errors import (
    AdjustmentBelowZero,
    GrantNotFound,
    InvalidCreditAmount,
    NotRefundable,
    StaffOnly,
)
from credits.models import CreditGrant, CreditTransaction, GrantSource
from credits.tests.helpers import balance, lot, make_overdue

# --- claw back ----


@pytest.mark.django_db
def test_claw_back_removes_what_is_left_of_that_lot_only_once(chat, customer, admin_user):
    lot(customer, 100, key="order:ORD-9")
    other = lot(customer, 50)
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=4)  # 20, lot 1

    row = services.claw_back_grant(
        user=customer,
        grant_idempotency_key="order:ORD-9",
        reason="order refunded",
        actor=admin_user,
        idempotency_key="refund:RF-1",
    )
    again = services.claw_back_grant(
        user=customer,
        grant_idempotency_key="order:ORD-9",
        reason="order refunded",
        actor=admin_user,
        idempotency_key="refund:RF-1",
    )

    assert again.pk == row.pk
    assert (row.kind, row.amount, row.balance_after) == ("ADJUST", -80, 50)
    other.refresh_from_db()
    assert other.remaining == 50
    assert (
        AuditLog.objects.filter(action=AuditAction.CREDIT_ADJUST, resource_id=str(row.pk)).count()
        == 1
    )


@pytest.mark.django_db
def test_claw_back_of_part_of_a_lot_and_of_an_empty_lot(customer):
    lot(customer, 100, key="order:ORD-9")

    part = services.claw_back_grant(
        user=customer,
        grant_idempotency_key="order:ORD-9",
        amount=30,
        reason="partial refund",
        idempotency_key="r1",
    )
    rest = services.claw_back_grant(
        user=customer,
        grant_idempotency_key="order:ORD-9",
        amount=500,
        reason="full refund",
        idempotency_key="r2",
    )
    nothing = services.claw_back_grant(
        user=customer, grant_idempotency_key="order:ORD-9", reason="again", idempotency_key="r3"
    )

    assert (part.amount, rest.amount, nothing) == (-30, -70, None)
    assert balance(customer) == 0
    with pytest.raises(GrantNotFound):
        services.claw_back_grant(
            user=customer, grant_idempotency_key="order:NOPE", reason="x", idempotency_key="r4"
        )


# --- refunds of a consumption ----


@pytest.mark.django_db
def test_refund_returns_credits_to_the_lots_they_came_from_exactly_once(chat, admin_user):
    user = UserFactory()
    first, second = lot(user, 3, days=5), lot(user, 10)
    used = services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 3 + 2

    refund = services.refund_consumption(transaction=used, reason="model failed", actor=admin_user)
    again = services.refund_consumption(transaction=used, reason="model failed", actor=admin_user)

    assert again.pk == refund.pk
    assert (refund.kind, refund.amount, refund.balance_after, refund.refund_of_id) == (
        "REFUND",
        5,
        13,
        used.pk,
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (3, 10)
    assert AuditLog.objects.filter(action=AuditAction.REFUND).count() == 1


@pytest.mark.django_db
def test_refund_of_credits_from_an_expired_lot_goes_to_a_new_short_lived_lot(chat):
    user = UserFactory()
    short = lot(user, 5, days=1)
    used = services.consume_credits(user=user, operation="AI_TEXT_CHAT")
    make_overdue(short)
    services.expire_credits()

    refund = services.refund_consumption(transaction=used, reason="failed", actor=None)

    short.refresh_from_db()
    assert short.remaining == 0
    fresh = CreditGrant.objects.get(user=user, source=GrantSource.REFUND)
    assert fresh.remaining == 5
    assert timedelta(days=6) < fresh.expires_at - timezone.now() <= services.REFUND_GRACE
    assert refund.balance_after == 5


@pytest.mark.django_db
def test_only_a_consumption_can_be_refunded(customer):
    granted = services.grant_credits(user=customer, amount=5, source=GrantSource.PROMO)

    with pytest.raises(NotRefundable):
        services.refund_consumption(transaction=granted, reason="x", actor=None)

    assert balance(customer) == 5


# --- staff adjustments ----


@pytest.mark.django_db
def test_adjust_adds_and_removes_credits_with_an_audited_reason(customer, admin_user):
    up = services.adjust_credits(user=customer, amount=40, reason="goodwill", actor=admin_user)
    down = services.adjust_credits(
        user=customer, amount=-15, reason="duplicate grant", actor=admin_user
    )

    assert (up.kind, up.amount, down.amount, down.balance_after) == ("ADJUST", 40, -15, 25)
    entries = AuditLog.objects.filter(action=AuditAction.CREDIT_ADJUST).order_by("id")
    assert [(e.old_values, e.new_values, e.context["reason"]) for e in entries] == [
        ({"balance": 0}, {"balance": 40}, "goodwill"),
        ({"balance": 40}, {"balance": 25}, "duplicate grant"),
    ]


@pytest.mark.django_db
def test_adjust_may_reach_zero_but_not_below(customer, admin_user):
    services.adjust_credits(user=customer, amount=10, reason="start", actor=admin_user)

    with pytest.raises(AdjustmentBelowZero):
        services.adjust_credits(user=customer, amount=-11, reason="too much", actor=admin_user)
    assert balance(customer) == 10

    services.adjust_credits(user=customer, amount=-10, reason="all", actor=admin_user)
    assert balance(customer) == 0


@pytest.mark.django_db
def test_adjust_needs_staff_a_reason_and_a_non_zero_amount(customer, other_customer, admin_user):
    with pytest.raises(StaffOnly):
        services.adjust_credits(user=customer, amount=10, reason="me", actor=other_customer)
    with pytest.raises(InvalidCreditAmount):
        services.adjust_credits(user=customer, amount=10, reason="   ", actor=admin_user)
    with pytest.raises(InvalidCreditAmount):
        services.adjust_credits(user=customer, amount=0, reason="zero", actor=admin_user)

    assert not CreditTransaction.objects.filter(user=customer).exists()
    assert not AuditLog.objects.filter(action=AuditAction.CREDIT_ADJUST).exists()
