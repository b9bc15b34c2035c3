"""Customer pages under /account/: profile, sessions, API keys, export and deletion."""

import json

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.factories import LoginSessionFactory
from accounts.models import ApiKey, LoginSession, Role, Status, StoredFile, User
from accounts.tests.helpers import LOGIN_URL, logged_in_user_id, page_login
from billing.factories import give_api_access
from core.models import AuditLog

pytestmark = pytest.mark.django_db

PROFILE = {
    "first_name": "Cara",
    "last_name": "Custer",
    "display_name": "CC",
    "avatar_url": "https://img.example.com/cc.png",
    "phone": "+44 20 7946 0000",
    "date_of_birth": "1991-04-05",
    "gender": "female",
    "timezone": "Europe/Paris",
    "language": "fr",
    "billing_line1": "3 Rue X",
    "billing_line2": "",
    "billing_city": "Paris",
    "billing_region": "",
    "billing_postal_code": "75001",
    "billing_country": "fr",
    "tax_id": "FR12345678901",
}


@pytest.mark.parametrize(
    "url",
    [
        "/account/",
        "/account/profile/",
        "/account/sessions/",
        "/account/api-keys/",
        "/account/export/",
        "/account/delete/",
    ],
)
def test_account_pages_require_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


@pytest.mark.parametrize(
    "url",
    [
        "/account/",
        "/account/profile/",
        "/account/sessions/",
        "/account/api-keys/",
        "/account/api-keys/new/",
        "/account/export/",
        "/account/delete/",
    ],
)
def test_account_pages_render_for_the_owner(customer_client, url):
    response = customer_client.get(url)

    assert response.status_code == 200
    assert b"<h1>" in response.content


def test_profile_page_saves_valid_changes_and_audits(customer_client, customer):
    response = customer_client.post("/account/profile/", PROFILE)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.last_name == "Custer" and customer.display_name == "CC"
    assert customer.phone == "+44 20 7946 0000"
    assert str(customer.date_of_birth) == "1991-04-05"
    assert customer.billing_address == {
        "line1": "3 Rue X",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    }
    assert customer.tax_id == "FR12345678901"
    assert customer.timezone == "Europe/Paris" and customer.language == "fr"
    row = AuditLog.objects.get(action="UPDATE", resource_id=str(customer.pk))
    assert row.actor == customer and row.new_values["last_name"] == "Custer"
    assert row.new_values["tax_id"] == "[changed]"
    page = customer_client.get("/account/profile/")
    assert b"FR12345678901" in page.content and b'value="Paris"' in page.content


@pytest.mark.parametrize(
    "field,value",
    [
        ("phone", "ring ring"),
        ("date_of_birth", "3000-01-01"),
        ("billing_country", "France"),
        ("tax_id", "!"),
        ("avatar_url", "ftp://x"),
    ],
)
def test_profile_page_shows_errors_and_saves_nothing(customer_client, customer, field, value):
    response = customer_client.post("/account/profile/", {**PROFILE, field: value})

    assert response.status_code == 400
    assert b"errorlist" in response.content
    customer.refresh_from_db()
    assert customer.last_name == "Customer" and customer.phone is None
    assert not AuditLog.objects.filter(action="UPDATE").exists()


def test_profile_page_ignores_role_and_status_fields(customer_client, customer):
    response = customer_client.post(
        "/account/profile/",
        {
            **PROFILE,
            "role": "ADMIN",
            "status": "SUSPENDED",
            "email_verified": "false",
            "email": "x@example.com",
        },
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.role == Role.CUSTOMER and customer.status == Status.ACTIVE
    assert customer.email == "customer@example.com" and customer.email_verified


def test_sessions_page_lists_only_my_sessions(customer_client, customer, other_customer):
    LoginSessionFactory(user=customer, user_agent="My Laptop")
    LoginSessionFactory(user=other_customer, user_agent="Their Phone")

    response = customer_client.get("/account/sessions/")

    assert b"My Laptop" in response.content
    assert b"Their Phone" not in response.content


def test_sessions_page_has_an_empty_state(customer_client, customer):
    # Only a session signed in before sessions were recorded has no row.
    LoginSession.objects.filter(user=customer).delete()

    response = customer_client.get("/account/sessions/")

    assert b"No active sessions" in response.content


def test_revoking_another_browser_session_signs_it_out(client, customer, password):
    laptop = client
    phone_client = type(client)()
    page_login(laptop, customer.email, password)
    page_login(phone_client, customer.email, password)
    phone = LoginSession.objects.get(session_key=phone_client.session.session_key)

    confirm = laptop.get(f"/account/sessions/{phone.pk}/revoke/")
    assert confirm.status_code == 200 and b"Sign out this session?" in confirm.content
    response = laptop.post(f"/account/sessions/{phone.pk}/revoke/")

    assert response.status_code == 302
    phone.refresh_from_db()
    assert phone.revoked_at is not None
    assert phone_client.get("/account/").status_code == 302  # the phone is signed out
    assert laptop.get("/account/").status_code == 200


def test_revoking_the_current_session_logs_me_out(client, customer, password):
    page_login(client, customer.email, password)
    current = LoginSession.objects.get(session_key=client.session.session_key)

    response = client.post(f"/account/sessions/{current.pk}/revoke/")

    assert response.status_code == 302 and response["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None
    current.refresh_from_db()
    assert current.revoked_at is not None


def test_another_users_session_page_is_404(customer_client, other_customer):
    theirs = LoginSessionFactory(user=other_customer)

    assert customer_client.get(f"/account/sessions/{theirs.pk}/revoke/").status_code == 404
    assert customer_client.post(f"/account/sessions/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_creating_a_key_on_the_page_shows_it_once(customer_client, customer):
    give_api_access(customer)
    response = customer_client.post("/account/api-keys/new/", {"name": "laptop"})

    assert response.status_code == 201
    key = ApiKey.objects.get(user=customer)
    raw = response.context["raw_key"]
    assert raw.encode() in response.content and key.name == "laptop"
    assert "no-store" in response["Cache-Control"]
    listing = customer_client.get("/account/api-keys/")
    assert key.prefix.encode() in listing.content and raw.encode() not in listing.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200
    assert AuditLog.objects.filter(action="CREATE", resource_type="accounts.ApiKey").exists()


def test_api_keys_page_has_an_empty_state(customer_client):
    assert b"You have no API keys yet" in customer_client.get("/account/api-keys/").content


def test_revoking_a_key_on_the_page_asks_first_then_revokes(customer_client, customer):
    key, raw = services.create_api_key(user=customer, name="old")

    confirm = customer_client.get(f"/account/api-keys/{key.pk}/revoke/")
    assert confirm.status_code == 200 and b"Revoke the key" in confirm.content
    key.refresh_from_db()
    assert key.revoked_at is None

    response = customer_client.post(f"/account/api-keys/{key.pk}/revoke/")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditLog.objects.filter(action="DELETE", resource_id=str(key.pk)).exists()


def test_another_users_key_page_is_404(customer_client, other_customer):
    key, _ = services.create_api_key(user=other_customer)

    assert customer_client.get(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    assert customer_client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_download_my_data_is_a_json_attachment_with_only_my_data(
    customer_client, customer, other_customer
):
    services.update_profile(user=customer, data={"tax_id": "GB111111111"}, actor=customer)
    services.update_profile(
        user=other_customer, data={"tax_id": "GB999999999"}, actor=other_customer
    )
    StoredFile.objects.create(owner=customer, name="mine.pdf", size_bytes=10)
    StoredFile.objects.create(owner=other_customer, name="theirs.pdf", size_bytes=10)

    response = customer_client.get("/account/export/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    document = json.loads(text)
    assert document["profile"]["tax_id"] == "GB111111111"
    assert [f["name"] for f in document["stored_files"]] == ["mine.pdf"]
    assert "GB999999999" not in text and "theirs.pdf" not in text
    assert other_customer.email not in text


def test_delete_account_needs_password_and_confirmation(customer_client, customer):
    response = customer_client.post("/account/delete/", {"password": "wrong", "confirm": "on"})

    assert response.status_code == 400 and b"errorlist" in response.content
    customer.refresh_from_db()
    assert customer.status == Status.ACTIVE


def test_delete_account_anonymises_and_logs_out_everywhere(client, customer, password):
    other_browser = type(client)()
    page_login(client, customer.email, password)
    page_login(other_browser, customer.email, password)
    key, raw = services.create_api_key(user=customer)
    services.update_profile(
        user=customer,
        data={
            "phone": "+1 555 0100",
            "tax_id": "US123",
            "date_of_birth": "1980-01-01",
            "billing_address": {"line1": "1 Main"},
            "display_name": "Cee",
        },
        actor=customer,
    )

    response = client.post("/account/delete/", {"password": password, "confirm": "on"})

    assert response.status_code == 302
    user = User.all_objects.get(pk=customer.pk)
    assert user.email == f"deleted-{user.pk}@invalid"
    assert (user.first_name, user.last_name, user.display_name) == ("", "", "")
    assert user.phone is None and user.tax_id is None and user.date_of_birth is None
    assert user.billing_address is None
    assert user.status == Status.DELETED and user.deleted_at is not None
    assert not user.is_active and not user.has_usable_password()
    assert not User.objects.filter(pk=user.pk).exists()  # hidden from the default manager
    assert LoginSession.objects.filter(user=user, revoked_at=None).count() == 0
    assert not LoginSession.objects.filter(user=user).exclude(ip_address=None).exists()
    assert not LoginSession.objects.filter(user=user).exclude(user_agent="").exists()
    assert logged_in_user_id(client) is None
    assert other_browser.get("/account/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    row = AuditLog.objects.get(action="DELETE", resource_type="accounts.User")
    assert row.actor_id == user.pk and "customer@example.com" not in json.dumps(row.new_values)
    assert page_login(client, "customer@example.com", password).status_code == 200
    assert logged_in_user_id(client) is None


def test_delete_account_keeps_records_that_point_at_the_user(customer, password):
    audit_before = AuditLog.objects.filter(actor=customer).count()
    services.delete_account(user=customer, actor=customer)

    # Rows that reference the user (here the audit trail) survive, pointing at the same id.
    assert AuditLog.objects.filter(actor_id=customer.pk).count() == audit_before + 1
    assert User.all_objects.filter(pk=customer.pk).exists()
