"""The staff console: who gets in, what SUPPORT may not do, actions through services."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError

from accounts import services
from accounts.authority import NotAuthorized
from accounts.factories import LoginSessionFactory, UserFactory
from accounts.models import ApiKey, LoginSession, Role, Status, StoredFile, User
from accounts.tests.helpers import page_login
from core.models import AuditLog, SystemConfig
from core.system_config import get_config

pytestmark = pytest.mark.django_db
USERS = "/admin/accounts/user/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def support_client(client, support_agent):
    client.force_login(support_agent)
    return client


def _user_form(user, **changes):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "phone": user.phone or "",
        "date_of_birth": "",
        "gender": user.gender,
        "timezone": user.timezone,
        "language": user.language,
        "billing_address": "null",
        "tax_id": user.tax_id or "",
        "role": user.role,
    }
    data.update(changes)
    return data


def test_customer_is_refused_from_admin(customer_client):
    response = customer_client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert customer_client.get(USERS).status_code == 302


def test_customer_cannot_log_in_to_admin_with_the_admin_form(client, customer, password):
    response = client.post("/admin/login/", {"username": customer.email, "password": password})

    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("who", ["admin_user", "support_agent"])
def test_admin_and_support_get_into_admin(client, request, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get("/admin/").status_code == 200
    assert client.get(USERS).status_code == 200


def test_user_search_by_email_and_name(admin_client, customer, other_customer):
    by_email = admin_client.get(USERS, {"q": "other@"})
    by_name = admin_client.get(USERS, {"q": "Cara"})

    assert list(by_email.context["cl"].result_list) == [other_customer]
    assert list(by_name.context["cl"].result_list) == [customer]


def test_user_filters_by_role_status_and_verified(admin_client, customer, support_agent):
    UserFactory(email="nov@example.com", email_verified=False)

    support = admin_client.get(USERS, {"role__exact": "SUPPORT"}).context["cl"].result_list
    unverified = admin_client.get(USERS, {"email_verified__exact": "0"}).context["cl"]

    assert list(support) == [support_agent]
    joined = admin_client.get(USERS, {"created_at__gte": "2000-01-01 00:00:00+00:00"})
    assert joined.status_code == 200 and b"joined" in joined.content
    assert [u.email for u in unverified.result_list] == ["nov@example.com"]


def test_admin_lists_soft_deleted_users_too(admin_client, customer):
    services.delete_account(user=customer, actor=customer)

    response = admin_client.get(USERS, {"status__exact": "DELETED"})

    assert [u.pk for u in response.context["cl"].result_list] == [customer.pk]
    assert admin_client.get(f"{USERS}{customer.pk}/change/").status_code == 200


def test_support_sees_role_read_only_and_cannot_change_it(support_client, customer):
    page = support_client.get(f"{USERS}{customer.pk}/change/")
    assert page.status_code == 200
    assert b'name="role"' not in page.content

    response = support_client.post(
        f"{USERS}{customer.pk}/change/", _user_form(customer, role="ADMIN", first_name="Carol")
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.role == Role.CUSTOMER
    assert customer.first_name == "Carol"  # support may fix profile data
    assert not AuditLog.objects.filter(action="ROLE_CHANGE").exists()


def test_support_cannot_change_roles_through_the_service_either(support_agent, customer):
    with pytest.raises(NotAuthorized) as refused:
        services.change_role(user=customer, role=Role.ADMIN, actor=support_agent)
    assert refused.value.code == "not_authorized"
    customer.refresh_from_db()
    assert customer.role == Role.CUSTOMER


def test_admin_changes_a_role_and_it_is_audited(admin_client, admin_user, customer):
    response = admin_client.post(
        f"{USERS}{customer.pk}/change/", _user_form(customer, role="SUPPORT")
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.role == Role.SUPPORT
    row = AuditLog.objects.get(action="ROLE_CHANGE")
    assert row.actor == admin_user
    assert row.old_values == {"role": "CUSTOMER"} and row.new_values == {"role": "SUPPORT"}


def test_admin_profile_edit_is_validated(admin_client, customer):
    response = admin_client.post(
        f"{USERS}{customer.pk}/change/", _user_form(customer, timezone="Nowhere/Else")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["timezone"]
    customer.refresh_from_db()
    assert customer.timezone == "UTC"


def _action(client, action, *users, confirmed=False):
    data = {"action": action, ACTION_CHECKBOX_NAME: [u.pk for u in users], "index": 0}
    if confirmed:
        data["confirm"] = "yes"
    return client.post(USERS, data)


def test_suspend_action_asks_first_then_suspends_and_signs_out(
    admin_client, admin_user, client, customer, password
):
    victim_browser = type(client)()
    page_login(victim_browser, customer.email, password)

    confirm = _action(admin_client, "suspend_users", customer)
    assert confirm.status_code == 200 and b"Suspend users?" in confirm.content
    customer.refresh_from_db()
    assert customer.status == Status.ACTIVE

    response = _action(admin_client, "suspend_users", customer, confirmed=True)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.status == Status.SUSPENDED and not customer.is_active
    assert victim_browser.get("/account/").status_code == 302
    row = AuditLog.objects.get(action="STATUS_CHANGE")
    assert row.actor == admin_user and row.new_values == {"status": "SUSPENDED"}


def test_reactivate_action_restores_access(admin_client, customer, password, client):
    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    _action(admin_client, "reactivate_users", customer, confirmed=True)

    customer.refresh_from_db()
    assert customer.status == Status.ACTIVE and customer.is_active


def test_reactivate_refuses_deleted_accounts(admin_client, customer):
    services.delete_account(user=customer, actor=customer)

    _action(admin_client, "reactivate_users", customer, confirmed=True)

    user = User.all_objects.get(pk=customer.pk)
    assert user.status == Status.DELETED


def test_staff_cannot_suspend_themselves(admin_client, admin_user):
    _action(admin_client, "suspend_users", admin_user, confirmed=True)

    admin_user.refresh_from_db()
    assert admin_user.status == Status.ACTIVE


def test_support_cannot_suspend_an_admin(support_client, admin_user):
    _action(support_client, "suspend_users", admin_user, confirmed=True)

    admin_user.refresh_from_db()
    assert admin_user.status == Status.ACTIVE


def test_force_logout_ends_all_sessions_but_keeps_the_account(
    admin_client, customer, password, client
):
    browser = type(client)()
    page_login(browser, customer.email, password)

    _action(admin_client, "force_logout_users", customer, confirmed=True)

    assert browser.get("/account/").status_code == 302
    assert LoginSession.objects.filter(user=customer, revoked_at=None).count() == 0
    customer.refresh_from_db()
    assert customer.status == Status.ACTIVE
    assert AuditLog.objects.filter(action="LOGOUT", resource_id=str(customer.pk)).exists()


def test_audit_log_is_read_only_in_admin(admin_client, customer):
    row = AuditLog.objects.create(action="OTHER", resource_type="x", resource_id="1")
    base = "/admin/core/auditlog/"

    assert admin_client.get(base).status_code == 200
    assert (
        admin_client.get(base, {"action__exact": "OTHER", "resource_type": "x"}).status_code == 200
    )
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{row.pk}/change/", {"action": "DELETE"}).status_code == 403
    assert admin_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.action == "OTHER"


def test_api_key_admin_never_shows_the_hash(admin_client, customer):
    key, raw = services.create_api_key(user=customer, name="ci")

    listing = admin_client.get("/admin/accounts/apikey/")
    detail = admin_client.get(f"/admin/accounts/apikey/{key.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing, detail):
        assert key.hashed_key.encode() not in page.content
        assert raw.encode() not in page.content
    assert key.prefix.encode() in listing.content


def test_login_sessions_admin_lists_sessions(admin_client, customer):
    session = LoginSessionFactory(user=customer, user_agent="AgentX")

    response = admin_client.get("/admin/accounts/loginsession/")

    assert response.status_code == 200 and b"AgentX" in response.content
    assert (
        session.session_key.encode()
        not in admin_client.get(f"/admin/accounts/loginsession/{session.pk}/change/").content
    )


def test_stored_file_admin_lists_files(admin_client, customer):
    StoredFile.objects.create(owner=customer, name="contract.pdf", size_bytes=3)

    response = admin_client.get("/admin/accounts/storedfile/")

    assert response.status_code == 200 and b"contract.pdf" in response.content


CONFIG = "/admin/core/systemconfig/"


def test_config_add_page_shows_keys_and_rejects_a_wrongly_typed_value(admin_client):
    page = admin_client.get(f"{CONFIG}add/")
    assert page.status_code == 200 and b"default_tax_rate" in page.content

    response = admin_client.post(f"{CONFIG}add/", {"key": "default_tax_rate", "value": "lots"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["value"]
    assert not SystemConfig.objects.filter(key="default_tax_rate").exists()


def test_config_value_outside_its_bounds_is_refused(admin_client):
    response = admin_client.post(f"{CONFIG}add/", {"key": "default_tax_rate", "value": "5"})

    assert response.status_code == 200
    assert not SystemConfig.objects.exists()


def test_config_change_is_typed_audited_and_clears_the_cache(admin_client, admin_user):
    assert get_config("default_tax_rate") == Decimal("0")  # now cached

    response = admin_client.post(f"{CONFIG}add/", {"key": "default_tax_rate", "value": "0.20"})

    assert response.status_code == 302
    row = SystemConfig.objects.get(key="default_tax_rate")
    assert row.value == "0.20" and row.updated_by == admin_user
    assert get_config("default_tax_rate") == Decimal("0.20")
    audit = AuditLog.objects.get(action="CONFIG_CHANGE")
    assert audit.actor == admin_user
    assert audit.old_values == {"value": "0"} and audit.new_values == {"value": "0.20"}

    page = admin_client.get(f"{CONFIG}{row.pk}/change/")
    assert b"nor the product has one of its own." in page.content
    response = admin_client.post(f"{CONFIG}{row.pk}/change/", {"value": "0.15"})
    assert response.status_code == 302
    assert get_config("default_tax_rate") == Decimal("0.15")
    assert AuditLog.objects.filter(action="CONFIG_CHANGE").count() == 2


def test_support_cannot_change_config(support_client):
    response = support_client.post(f"{CONFIG}add/", {"key": "business_name", "value": "X"})

    assert response.status_code == 403
    assert not SystemConfig.objects.exists()


def test_set_config_service_rejects_unknown_keys_and_bad_types(admin_user):
    with pytest.raises(ValidationError):
        services.set_config(key="no_such_key", value="1", actor=admin_user)
    with pytest.raises(ValidationError):
        services.set_config(key="default_tax_rate", value="abc", actor=admin_user)
    assert not SystemConfig.objects.exists()
    assert not AuditLog.objects.filter(action="CONFIG_CHANGE").exists()


def test_api_key_admin_has_no_add(admin_client):
    assert admin_client.get("/admin/accounts/apikey/add/").status_code == 403
    assert ApiKey.objects.count() == 0


def test_staff_can_revoke_a_session_from_admin(
    support_client, support_agent, client, customer, password
):
    browser = type(client)()
    page_login(browser, customer.email, password)
    session = LoginSession.objects.get(user=customer)

    response = support_client.post(
        "/admin/accounts/loginsession/",
        {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [session.pk], "index": 0},
    )

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert browser.get("/account/").status_code == 302
    assert AuditLog.objects.filter(action="LOGOUT", actor=support_agent).exists()


def test_admin_can_revoke_an_api_key(admin_client, admin_user, customer):
    key, raw = services.create_api_key(user=customer)

    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [key.pk], "index": 0},
    )

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditLog.objects.filter(
        action="DELETE", actor=admin_user, resource_id=str(key.pk)
    ).exists()
