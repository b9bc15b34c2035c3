from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.factories import UserFactory
from accounts.services import set_config
from core.models import AuditAction, AuditLog
from credits import services
from credits.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidCreditAmount,
    UnknownOperation,
)
from credits.factories import FeatureCostFactory, funded_user
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    GrantSource,
    TransactionLot,
)
from credits.tests.helpers import balance, lot, make_overdue

# --- consume ----


@pytest.mark.django_db
def test_consume_charges_cost_times_quantity_and_writes_one_ledger_row(chat):
    user = funded_user(credits=100)

    row = services.consume_credits(
        user=user, operation="AI_TEXT_CHAT", quantity=3, details={"model": "small"}
    )

    assert (row.kind, row.amount, row.balance_after, row.quantity) == ("CONSUME", -15, 85, 3)
    assert row.details == {"model": "small"}
    assert balance(user) == 85
    assert CreditTransaction.objects.filter(user=user, kind="CONSUME").count() == 1


@pytest.mark.django_db
def test_consume_draws_from_the_lot_that_expires_first_then_non_expiring(chat):
    user = UserFactory()
    forever = lot(user, 10)
    later = lot(user, 3, days=30)
    sooner = lot(user, 4, days=2)

    row = services.consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=2)  # 10

    for grant in (forever, later, sooner):
        grant.refresh_from_db()
    assert (sooner.remaining, later.remaining, forever.remaining) == (0, 0, 7)
    assert sorted(
        TransactionLot.objects.filter(transaction=row).values_list("grant_id", "amount")
    ) == sorted([(sooner.pk, -4), (later.pk, -3), (forever.pk, -3)])


@pytest.mark.django_db
def test_consume_refuses_when_balance_too_low_and_writes_nothing(video):
    user = funded_user(credits=30)
    before = CreditTransaction.objects.count()

    with pytest.raises(InsufficientCredits) as excinfo:
        services.consume_credits(user=user, operation="AI_VIDEO_GENERATION")

    assert excinfo.value.extra == {"balance": 30, "cost": 40}
    assert CreditTransaction.objects.count() == before
    assert balance(user) == 30
    assert CreditGrant.objects.get(user=user).remaining == 30


@pytest.mark.django_db
def test_consume_by_a_user_without_any_credits_writes_nothing(chat, customer):
    with pytest.raises(InsufficientCredits):
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT")

    assert not CreditBalance.objects.filter(user=customer).exists()
    assert not CreditTransaction.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_consume_refuses_unknown_and_inactive_operations(chat):
    user = funded_user(credits=50)
    FeatureCostFactory(operation="RETIRED_FEATURE", cost=1, active=False)

    for operation in ("NOPE", "RETIRED_FEATURE"):
        with pytest.raises(UnknownOperation):
            services.consume_credits(user=user, operation=operation)

    assert balance(user) == 50


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, 10_001])
def test_consume_refuses_a_quantity_that_is_not_a_whole_number_in_range(chat, quantity):
    user = funded_user(credits=50)

    with pytest.raises(InvalidCreditAmount):
        services.consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=quantity)

    assert balance(user) == 50


@pytest.mark.django_db
def test_consume_with_the_same_key_twice_charges_once_and_returns_the_first_row(chat):
    user = funded_user(credits=50)

    first = services.consume_credits(user=user, operation="AI_TEXT_CHAT", idempotency_key="k1")
    again = services.consume_credits(user=user, operation="AI_TEXT_CHAT", idempotency_key="k1")

    assert again.pk == first.pk
    assert balance(user) == 45


@pytest.mark.django_db
def test_consume_with_the_same_key_and_another_operation_or_quantity_is_a_conflict(chat, video):
    user = funded_user(credits=500)
    services.consume_credits(user=user, operation="AI_TEXT_CHAT", idempotency_key="k1")

    with pytest.raises(IdempotencyConflict):
        services.consume_credits(user=user, operation="AI_VIDEO_GENERATION", idempotency_key="k1")
    with pytest.raises(IdempotencyConflict):
        services.consume_credits(
            user=user, operation="AI_TEXT_CHAT", quantity=2, idempotency_key="k1"
        )

    assert balance(user) == 495


@pytest.mark.django_db
def test_idempotency_keys_are_per_user(chat):
    alice, bob = funded_user(credits=50), funded_user(credits=50)

    services.consume_credits(user=alice, operation="AI_TEXT_CHAT", idempotency_key="same")
    services.consume_credits(user=bob, operation="AI_TEXT_CHAT", idempotency_key="same")

    assert (balance(alice), balance(bob)) == (45, 45)


@pytest.mark.django_db
def test_consume_expires_overdue_lots_first_and_does_not_draw_from_them(chat):
    user = UserFactory()
    old = lot(user, 20, days=1)
    fresh = lot(user, 10)
    make_overdue(old)

    services.consume_credits(user=user, operation="AI_TEXT_CHAT")

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.remaining, old.expired_at is not None, fresh.remaining) == (0, True, 5)
    assert balance(user) == 5
    assert CreditTransaction.objects.get(user=user, kind="EXPIRE").amount == -20


@pytest.mark.django_db
def test_consume_refused_because_only_expired_credits_remain(chat):
    user = UserFactory()
    make_overdue(lot(user, 20, days=1))

    with pytest.raises(InsufficientCredits) as excinfo:
        services.consume_credits(user=user, operation="AI_TEXT_CHAT")

    # The refusal writes nothing, not even the expiry: the hourly task does that.
    assert excinfo.value.extra == {"balance": 0, "cost": 5}
    assert balance(user) == 20
    assert services.expire_credits() == 1
    assert balance(user) == 0


# --- grants ----


@pytest.mark.django_db
def test_grant_creates_a_lot_and_a_ledger_row_and_is_idempotent_on_its_key(customer):
    first = services.grant_credits(
        user=customer,
        amount=500,
        source=GrantSource.PURCHASE,
        idempotency_key="order:ORD-1",
        source_ref="order:ORD-1",
    )
    again = services.grant_credits(
        user=customer,
        amount=500,
        source=GrantSource.PURCHASE,
        idempotency_key="order:ORD-1",
        source_ref="order:ORD-1",
    )

    assert again.pk == first.pk
    assert (first.kind, first.amount, first.balance_after) == ("GRANT", 500, 500)
    grant = CreditGrant.objects.get(user=customer)
    assert (grant.amount, grant.remaining, grant.source_ref) == (500, 500, "order:ORD-1")
    with pytest.raises(IdempotencyConflict):
        services.grant_credits(
            user=customer, amount=501, source=GrantSource.PURCHASE, idempotency_key="order:ORD-1"
        )
    assert balance(customer) == 500


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -5, 2.5, "10"])
def test_grant_refuses_an_amount_that_is_not_a_positive_whole_number(customer, amount):
    with pytest.raises(InvalidCreditAmount):
        services.grant_credits(user=customer, amount=amount, source=GrantSource.PROMO)

    assert not CreditTransaction.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_grant_refuses_an_expiry_in_the_past_and_an_unknown_source(customer):
    with pytest.raises(InvalidCreditAmount):
        services.grant_credits(
            user=customer,
            amount=5,
            source=GrantSource.PROMO,
            expires_at=timezone.now() - timedelta(seconds=1),
        )
    with pytest.raises(InvalidCreditAmount):
        services.grant_credits(user=customer, amount=5, source="GIFT")

    assert not CreditGrant.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_grant_by_staff_is_audited(customer, admin_user):
    row = services.grant_credits(
        user=customer, amount=50, source=GrantSource.PROMO, actor=admin_user
    )

    assert row.actor == admin_user
    entry = AuditLog.objects.get(action=AuditAction.CREDIT_GRANT)
    assert (entry.actor, entry.resource_id, entry.new_values["amount"]) == (
        admin_user,
        str(row.pk),
        50,
    )


@pytest.mark.django_db
def test_signup_bonus_is_granted_once_with_the_configured_amount(customer, admin_user):
    set_config(key="signup_bonus_credits", value=250, actor=admin_user)

    first = services.grant_signup_bonus(user=customer)
    again = services.grant_signup_bonus(user=customer)

    assert again.pk == first.pk
    assert balance(customer) == 250
    assert CreditGrant.objects.get(user=customer).source == GrantSource.SIGNUP_BONUS


@pytest.mark.django_db
def test_signup_bonus_defaults_to_100_and_zero_turns_it_off(customer, other_customer, admin_user):
    assert services.grant_signup_bonus(user=customer).amount == 100

    set_config(key="signup_bonus_credits", value=0, actor=admin_user)

    assert services.grant_signup_bonus(user=other_customer) is None
    assert not CreditTransaction.objects.filter(user=other_customer).exists()


# --- expiry ----


@pytest.mark.django_db
def test_expire_writes_one_row_per_lot_and_is_idempotent(chat):
    user = UserFactory()
    a, b = lot(user, 10, days=1), lot(user, 7, days=2)
    keep = lot(user, 4, days=10)
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 5 from a
    later = timezone.now() + timedelta(days=3)

    assert services.expire_credits(now=later) == 2
    assert services.expire_credits(now=later) == 0

    rows = CreditTransaction.objects.filter(user=user, kind="EXPIRE").order_by("amount")
    assert [r.amount for r in rows] == [-7, -5]
    assert balance(user) == 4
    for grant in (a, b, keep):
        grant.refresh_from_db()
    assert (a.expired_at == later, b.remaining, keep.expired_at, keep.remaining) == (
        True,
        0,
        None,
        4,
    )


@pytest.mark.django_db
def test_expire_marks_an_empty_lot_without_a_ledger_row(chat):
    user = UserFactory()
    empty = lot(user, 5, days=1)
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")

    assert services.expire_credits(now=timezone.now() + timedelta(days=2)) == 0

    empty.refresh_from_db()
    assert empty.expired_at is not None
    assert not CreditTransaction.objects.filter(kind="EXPIRE").exists()


# --- low balance e-mail ----


@pytest.mark.django_db(transaction=True)
def test_low_balance_email_is_sent_once_per_crossing(chat):
    user = funded_user(credits=30)  # threshold 20 by default

    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 25: not low
    assert mail.outbox == []
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 20: not below
    assert mail.outbox == []
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 15: crossed
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 10: still low
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "15 credits" in mail.outbox[0].body
    assert CreditBalance.objects.get(user=user).low_balance_notified is True

    services.grant_credits(user=user, amount=50, source=GrantSource.PURCHASE)  # 60: reset
    assert CreditBalance.objects.get(user=user).low_balance_notified is False
    services.consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=9)  # 15: crossed
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_a_refused_consume_sends_no_low_balance_email(video):
    user = funded_user(credits=30)

    with pytest.raises(InsufficientCredits):
        services.consume_credits(user=user, operation="AI_VIDEO_GENERATION")

    assert mail.outbox == []
    assert CreditBalance.objects.get(user=user).low_balance_notified is False
