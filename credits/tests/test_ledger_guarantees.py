"""The ledger's guarantees: what the database itself refuses, the invariant check and the
nightly tasks that expire lots and check the books."""

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from accounts.factories import UserFactory
from core.dbroles import as_owner
from credits import invariant, services, tasks
from credits.factories import funded_user
from credits.models import (
    CreditBalance,
    CreditGrant,
    GrantSource,
    TransactionLot,
)
from credits.tests.helpers import balance, lot, make_overdue

# --- the database's own guarantees ----


def _execute_in_savepoint(sql, params):
    # As the owner: the application's role may not even try (config/tests/
    # test_database_roles.py); the trigger stops whoever has the privilege.
    with as_owner(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete_on_the_ledger(chat):
    user = funded_user(credits=10)
    row = services.consume_credits(user=user, operation="AI_TEXT_CHAT")

    for statement in (
        "UPDATE credits_credittransaction SET amount = -1 WHERE id = %s",
        "DELETE FROM credits_credittransaction WHERE id = %s",
        "UPDATE credits_transactionlot SET amount = -1 WHERE transaction_id = %s",
        "DELETE FROM credits_transactionlot WHERE transaction_id = %s",
    ):
        with pytest.raises((InternalError, ProgrammingError)) as excinfo:
            _execute_in_savepoint(statement, [row.pk])
        assert "append-only" in str(excinfo.value)

    row.refresh_from_db()
    assert row.amount == -5
    assert TransactionLot.objects.get(transaction=row).amount == -5


@pytest.mark.django_db
def test_the_database_refuses_a_negative_balance_or_an_overdrawn_lot(customer):
    services.grant_credits(user=customer, amount=5, source=GrantSource.PROMO)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditBalance.objects.filter(user=customer).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditGrant.objects.filter(user=customer).update(remaining=6)

    assert balance(customer) == 5


@pytest.mark.django_db
def test_check_invariant_reports_a_balance_that_disagrees_with_the_ledger(customer):
    services.grant_credits(user=customer, amount=5, source=GrantSource.PROMO)
    assert invariant.check_invariant() == []

    CreditBalance.objects.filter(user=customer).update(balance=7)
    problems = invariant.check_invariant(user=customer)

    assert [(p.user_id, p.problem) for p in problems] == [(customer.pk, "balance_mismatch")]
    assert problems[0].values["ledger"] == 5
    CreditBalance.objects.filter(user=customer).update(balance=5)  # leave the books straight


@pytest.mark.django_db
def test_tasks_expire_and_check_the_invariant(chat, caplog):
    user = UserFactory()
    make_overdue(lot(user, 9, days=1))

    assert tasks.expire_credits.delay().get() == 1
    assert tasks.check_invariant.delay().get() == 0
    CreditBalance.objects.filter(user=user).update(balance=3)
    assert tasks.check_invariant.delay().get() == 1
    assert "CREDITS INVARIANT VIOLATED" in caplog.text
    CreditBalance.objects.filter(user=user).update(balance=0)
