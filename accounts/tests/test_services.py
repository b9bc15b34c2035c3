"""Service rules that pages and the API share: registration, export sections, status."""

import datetime
import json
import threading

import pytest
from django.db import connection

from accounts import data_export, services
from accounts.models import Status, User
from core import audit
from core.errors import AccountDeleted, EmailTaken, WeakPassword
from core.models import AuditLog

pytestmark = pytest.mark.django_db
STRONG = "a-much-longer-passphrase-42"


def test_register_user_case_folds_and_audits():
    user = services.register_user(
        email="  Mixed.Case@Example.COM ", password=STRONG, first_name="Mi"
    )

    assert user.email == "mixed.case@example.com" and user.first_name == "Mi"
    assert user.check_password(STRONG) and not user.email_verified
    row = AuditLog.objects.get(action="CREATE", resource_id=str(user.pk))
    assert row.new_values == {"email": "mixed.case@example.com", "role": "CUSTOMER"}


def test_register_user_refuses_a_deleted_users_old_address_format_and_duplicates(customer):
    with pytest.raises(EmailTaken):
        services.register_user(email="CUSTOMER@example.com", password=STRONG)
    assert User.all_objects.count() == 1


def test_register_user_refuses_a_password_like_the_email():
    with pytest.raises(WeakPassword) as excinfo:
        services.register_user(email="jonathan.smithers@example.com", password="jonathan.smithers")
    assert excinfo.value.extra["fields"]["password"]
    assert not User.objects.exists()


def test_status_change_is_audited_with_old_and_new(customer, admin_user):
    services.change_status(
        user=customer, status=Status.SUSPENDED, actor=admin_user, reason="chargeback"
    )

    row = AuditLog.objects.get(action="STATUS_CHANGE")
    assert row.actor == admin_user and row.resource_id == str(customer.pk)
    assert row.old_values == {"status": "ACTIVE"} and row.new_values == {"status": "SUSPENDED"}
    assert row.context == {"reason": "chargeback"}


def test_deleted_accounts_cannot_be_reactivated_or_deleted_twice(customer):
    services.delete_account(user=customer, actor=customer)

    with pytest.raises(AccountDeleted):
        services.change_status(user=customer, status=Status.ACTIVE, actor=None)
    with pytest.raises(AccountDeleted):
        services.delete_account(user=customer, actor=customer)
    assert AuditLog.objects.filter(action="DELETE").count() == 1


def test_update_profile_twice_with_the_same_data_audits_once(customer):
    services.update_profile(user=customer, data={"first_name": "New"}, actor=customer)
    services.update_profile(user=customer, data={"first_name": "New"}, actor=customer)

    assert AuditLog.objects.filter(action="UPDATE").count() == 1


def test_other_apps_can_add_export_sections_holding_only_that_users_rows(customer, other_customer):
    # What billing/credits/support do from their ready(): a section that filters by owner.
    def logins(user):
        return [
            {"id": row.pk, "at": row.created_at}
            for row in AuditLog.objects.filter(actor=user, action="LOGIN")
        ]

    data_export.register("test_logins", logins)
    try:
        audit.record(actor=customer, action="LOGIN", resource=customer)
        audit.record(actor=other_customer, action="LOGIN", resource=other_customer)

        document = json.loads("".join(services.export_user_data(user=customer)))
    finally:
        data_export._SECTIONS.pop("test_logins")

    assert len(document["test_logins"]) == 1
    assert isinstance(document["test_logins"][0]["at"], str)  # dates serialised
    assert {"profile", "login_sessions", "api_keys", "stored_files", "activity"} <= set(document)


def test_export_serialises_dates_of_birth(customer):
    services.update_profile(
        user=customer, data={"date_of_birth": datetime.date(1990, 1, 2)}, actor=customer
    )

    document = json.loads("".join(services.export_user_data(user=customer)))

    assert document["profile"]["date_of_birth"] == "1990-01-02"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_signups_for_one_address_create_one_account():
    barrier = threading.Barrier(2)
    outcomes = []

    def signup(email):
        try:
            barrier.wait()
            services.register_user(email=email, password=STRONG)
            outcomes.append("created")
        except EmailTaken:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=signup, args=(email,))
        for email in ("race@example.com", "RACE@example.com")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "taken"]
    assert User.all_objects.filter(email="race@example.com").count() == 1
    assert AuditLog.objects.filter(action="CREATE").count() == 1
