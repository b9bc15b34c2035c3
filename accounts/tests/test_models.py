import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import ProgrammingError

from accounts.factories import UserFactory
from accounts.models import Role, Status, User
from core import audit
from core.dbroles import as_owner
from core.models import AuditLog


def _execute_in_savepoint(sql, params):
    # As the owner: the application's role may not even try (config/tests/
    # test_database_roles.py); the trigger stops whoever has the privilege.
    with as_owner(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_audit_log_rows_cannot_be_updated_or_deleted_by_the_database(customer):
    row = audit.record(actor=customer, action="OTHER", resource=customer, new={"x": 1})

    for statement in (
        "UPDATE accounts_auditlog SET action = 'DELETE' WHERE id = %s",
        "DELETE FROM accounts_auditlog WHERE id = %s",
    ):
        with pytest.raises((InternalError, ProgrammingError)) as excinfo:
            _execute_in_savepoint(statement, [row.pk])
        assert "append-only" in str(excinfo.value)

    row.refresh_from_db()
    assert row.action == "OTHER"
    assert AuditLog.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
def test_audit_log_redacts_secrets(customer):
    row = audit.record(
        actor=customer,
        action="UPDATE",
        resource=customer,
        new={"password": "hunter22", "api_key": "bk_x", "first_name": "C"},
    )

    assert row.new_values == {"password": "[redacted]", "api_key": "[redacted]", "first_name": "C"}


@pytest.mark.django_db
def test_personal_data_columns_hold_no_plaintext():
    user = UserFactory(
        phone="+44 7700 900123",
        tax_id="GB123456789",
        billing_address={"line1": "221B Baker Street", "city": "London"},
    )
    user.date_of_birth = "1987-06-05"
    user.save()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone, tax_id, billing_address, date_of_birth FROM accounts_user WHERE id = %s",
            [user.pk],
        )
        raw = " ".join(cursor.fetchone())
    for plaintext in ("7700", "GB123456789", "Baker", "London", "1987"):
        assert plaintext not in raw

    fresh = User.objects.get(pk=user.pk)
    assert fresh.phone == "+44 7700 900123"
    assert fresh.tax_id == "GB123456789"
    assert fresh.billing_address == {"line1": "221B Baker Street", "city": "London"}
    assert str(fresh.date_of_birth) == "1987-06-05"


@pytest.mark.django_db
def test_email_is_unique_case_insensitively():
    UserFactory(email="dup@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="DUP@example.com")


@pytest.mark.django_db
def test_is_active_must_match_status():
    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(status=Status.SUSPENDED)


@pytest.mark.django_db
def test_roles_decide_staff_and_superuser(customer, support_agent, admin_user):
    assert not customer.is_staff and not customer.is_superuser
    assert support_agent.is_staff and not support_agent.is_superuser
    assert admin_user.is_staff and admin_user.is_superuser
    assert support_agent.has_perm("billing.view_order")
    assert not support_agent.has_perm("accounts.delete_user")
    assert admin_user.role == Role.ADMIN
