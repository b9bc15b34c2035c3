"""The accounts REST API: signup, tokens, /me, sessions and API keys."""

import json

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from rest_framework.test import APIClient

from accounts import services
from accounts.factories import LoginSessionFactory, UserFactory
from accounts.models import ApiKey, Role, Status, User, hash_api_key
from accounts.tests.helpers import api_url
from billing.factories import give_api_access
from core.models import AuditLog

pytestmark = pytest.mark.django_db
STRONG = "a-much-longer-passphrase-42"


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def token(client, email, password, **extra):
    return client.post(
        api_url("auth-token"), {"email": email, "password": password}, format="json", **extra
    )


# --- signup -------------------------------------------------------------------------------


def test_signup_creates_an_unverified_customer_and_mails_a_confirmation(
    django_capture_on_commit_callbacks,
):
    client = APIClient(enforce_csrf_checks=True)  # JSON clients send no CSRF token
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            api_url("auth-signup"),
            {
                "email": "Api.User@Example.com",
                "password": STRONG,
                "first_name": "Api",
            },
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "api.user@example.com"
    assert body["role"] == "CUSTOMER" and body["status"] == "ACTIVE"
    assert body["email_verified"] is False and body["first_name"] == "Api"
    assert "password" not in body
    user = User.objects.get(email="api.user@example.com")
    assert user.check_password(STRONG)
    assert EmailAddress.objects.filter(user=user, verified=False, primary=True).exists()
    assert mail.outbox[-1].to == ["api.user@example.com"]
    assert AuditLog.objects.filter(action="CREATE", resource_id=str(user.pk)).exists()


@pytest.mark.parametrize("email", ["customer@example.com", "CUSTOMER@Example.COM"])
def test_signup_with_a_taken_email_in_any_case_is_400_email_taken(api_client, customer, email):
    response = api_client.post(
        api_url("auth-signup"), {"email": email, "password": STRONG}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "email_taken"
    assert "email" in body["fields"]
    assert User.all_objects.filter(email__iexact=email).count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "12345678901234"])
def test_signup_with_a_weak_password_is_400_and_creates_nobody(api_client, password):
    response = api_client.post(
        api_url("auth-signup"), {"email": "weak@example.com", "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "weak_password"
    assert response.json()["fields"]["password"]
    assert not User.objects.filter(email="weak@example.com").exists()


def test_signup_without_email_is_400_with_field_error(api_client):
    response = api_client.post(api_url("auth-signup"), {"password": STRONG}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "email" in response.json()["fields"]


# --- token --------------------------------------------------------------------------------


def test_token_returns_a_new_key_that_authenticates(customer, password):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        api_url("auth-token"),
        {"email": "Customer@example.com", "password": password, "name": "cli"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["key"].startswith("bk_" + body["prefix"])
    key = ApiKey.objects.get(prefix=body["prefix"])
    assert key.user == customer and key.name == "cli"
    assert key.hashed_key == hash_api_key(body["key"]) and body["key"] not in key.hashed_key

    me = bearer(body["key"]).get(api_url("me"))
    assert me.status_code == 200 and me.json()["email"] == customer.email
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_token_with_wrong_password_is_401_invalid_credentials(api_client, customer):
    response = token(api_client, customer.email, "wrong-password")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert ApiKey.objects.count() == 0


def test_token_for_unknown_email_is_401_invalid_credentials(api_client):
    response = token(api_client, "nobody@example.com", "whatever-password")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_token_locks_out_after_five_failures_even_with_the_right_password(
    api_client, customer, other_customer, password
):
    for _ in range(4):
        assert token(api_client, customer.email, "wrong").status_code == 401
    token(api_client, customer.email, "wrong")

    response = token(api_client, customer.email, password)

    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert response.json()["detail"]
    assert ApiKey.objects.filter(user=customer).count() == 0
    # Another account from the same address still gets its token.
    assert token(api_client, other_customer.email, password).status_code == 201


def test_page_failures_and_token_failures_share_one_lockout(client, api_client, customer, password):
    for _ in range(5):
        client.post("/accounts/login/", {"login": customer.email, "password": "wrong"})

    response = token(api_client, customer.email, password)

    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"


def test_token_for_a_suspended_user_is_refused_with_its_own_code(api_client, customer, password):
    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    response = token(api_client, customer.email, password)

    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"
    assert ApiKey.objects.count() == 0


def test_token_for_a_suspended_user_with_wrong_password_reveals_nothing(api_client, customer):
    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    response = token(api_client, customer.email, "wrong-password")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_token_for_an_unverified_email_is_refused(api_client, password):
    user = UserFactory(email="unverified@example.com", email_verified=False)

    response = token(api_client, user.email, password)

    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"
    assert ApiKey.objects.count() == 0


# --- suspended users' keys and sessions ---------------------------------------------------


def test_suspending_a_user_stops_their_api_key_at_once(customer):
    _, raw = services.create_api_key(user=customer, name="ci")
    assert bearer(raw).get(api_url("me")).status_code == 200

    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    response = bearer(raw).get(api_url("me"))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_unknown_or_revoked_key_is_401(customer):
    key, raw = services.create_api_key(user=customer)
    services.revoke_api_key(user=customer, key_id=key.pk, actor=customer)

    assert bearer(raw).get(api_url("me")).status_code == 401
    assert bearer("bk_nope_nope").get(api_url("me")).status_code == 401


@pytest.mark.parametrize("name", ["me", "me-export", "me-sessions", "me-api-keys"])
def test_anonymous_requests_get_401_in_our_error_format(api_client, name):
    response = api_client.get(api_url(name))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert set(response.json()) >= {"code", "detail", "fields"}


# --- /me ----------------------------------------------------------------------------------


def test_me_returns_my_profile(customer_api, customer):
    response = customer_api.get(api_url("me"))

    assert response.status_code == 200
    assert response.json()["email"] == customer.email
    assert response.json()["role"] == "CUSTOMER"


def test_me_patch_updates_profile_and_writes_an_audit_row(customer_api, customer):
    response = customer_api.patch(
        api_url("me"),
        {
            "first_name": "Carla",
            "phone": "+44 20 7946 0000",
            "date_of_birth": "1990-02-03",
            "timezone": "Europe/London",
            "billing_address": {"line1": "1 High St", "country": "gb"},
            "tax_id": "GB123456789",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["first_name"] == "Carla"
    assert response.json()["billing_address"] == {"line1": "1 High St", "country": "GB"}
    customer.refresh_from_db()
    assert customer.phone == "+44 20 7946 0000"
    assert str(customer.date_of_birth) == "1990-02-03"
    assert customer.tax_id == "GB123456789"
    row = AuditLog.objects.get(action="UPDATE", resource_id=str(customer.pk))
    assert row.actor == customer
    assert row.new_values["first_name"] == "Carla"
    assert row.new_values["phone"] == "[changed]"  # personal data stays out of the log


@pytest.mark.parametrize(
    "field,value",
    [
        ("role", "ADMIN"),
        ("status", "SUSPENDED"),
        ("email_verified", False),
        ("email", "new@example.com"),
    ],
)
def test_me_patch_cannot_change_role_status_verification_or_email(
    customer_api, customer, field, value
):
    response = customer_api.patch(api_url("me"), {field: value, "first_name": "X"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.role == Role.CUSTOMER and customer.status == Status.ACTIVE
    assert customer.email_verified is True and customer.email == "customer@example.com"
    assert customer.first_name == "Cara"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"phone": "call me"}, "phone"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"billing_address": {"country": "Britain"}}, "billing_address"),
        ({"language": "xx-yy"}, "language"),
        ({"gender": "robot"}, "gender"),
    ],
)
def test_me_patch_refuses_invalid_values_and_changes_nothing(
    customer_api, customer, payload, field
):
    response = customer_api.patch(api_url("me"), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.timezone == "UTC" and customer.phone is None
    assert not AuditLog.objects.filter(action="UPDATE").exists()


def test_me_export_contains_my_data_and_nothing_of_others(customer_api, customer, other_customer):
    services.update_profile(user=customer, data={"phone": "+1 555 0100"}, actor=customer)
    services.update_profile(
        user=other_customer, data={"phone": "+1 555 0199"}, actor=other_customer
    )
    services.create_api_key(user=customer, name="mine")
    services.create_api_key(user=other_customer, name="theirs")
    LoginSessionFactory(user=other_customer, user_agent="other-agent")

    response = customer_api.get(api_url("me-export"))

    assert response.status_code == 200 and response.streaming
    body = json.loads(b"".join(response.streaming_content))
    assert body["profile"]["email"] == customer.email
    assert body["profile"]["phone"] == "+1 555 0100"
    assert [k["name"] for k in body["api_keys"]] == ["mine"]
    text = str(body)
    assert other_customer.email not in text and "0199" not in text
    assert "theirs" not in text and "other-agent" not in text
    assert AuditLog.objects.filter(action="EXPORT", actor=customer).exists()


def test_me_delete_needs_the_password(customer_api, customer):
    response = customer_api.delete(api_url("me"), {"password": "wrong"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    customer.refresh_from_db()
    assert customer.status == Status.ACTIVE and customer.email == "customer@example.com"


def test_me_delete_anonymises_and_revokes_keys(customer, password):
    give_api_access(customer)  # an API key changes nothing without it
    key, raw = services.create_api_key(user=customer)
    client = bearer(raw)

    response = client.delete(api_url("me"), {"password": password}, format="json")

    assert response.status_code == 204
    user = User.all_objects.get(pk=customer.pk)
    assert user.status == Status.DELETED and user.email == f"deleted-{user.pk}@invalid"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert bearer(raw).get(api_url("me")).status_code == 401


# --- sessions -----------------------------------------------------------------------------


def test_sessions_list_shows_only_my_active_sessions_paginated(
    customer_api, customer, other_customer
):
    mine = LoginSessionFactory(user=customer)
    LoginSessionFactory(user=customer, revoked_at="2026-01-01T00:00:00Z")
    LoginSessionFactory(user=other_customer)

    response = customer_api.get(api_url("me-sessions"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and [s["id"] for s in body["results"]] == [mine.pk]
    assert "session_key" not in body["results"][0]


def test_revoking_my_session_ends_it(customer_api, customer):
    session = LoginSessionFactory(user=customer)

    response = customer_api.delete(api_url("me-session", session_id=session.pk))

    assert response.status_code == 204
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert AuditLog.objects.filter(action="LOGOUT", resource_id=str(session.pk)).exists()


def test_revoking_another_users_session_is_404_and_changes_nothing(customer_api, other_customer):
    theirs = LoginSessionFactory(user=other_customer)

    response = customer_api.delete(api_url("me-session", session_id=theirs.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- API keys -----------------------------------------------------------------------------


def test_creating_a_key_shows_the_secret_once_and_audits(customer_api, customer):
    response = customer_api.post(api_url("me-api-keys"), {"name": "deploy"}, format="json")

    assert response.status_code == 201
    raw = response.json()["key"]
    listing = customer_api.get(api_url("me-api-keys")).json()
    assert listing["count"] == 1
    assert listing["results"][0]["prefix"] == response.json()["prefix"]
    assert raw not in str(listing) and "hashed_key" not in listing["results"][0]
    key = ApiKey.objects.get(user=customer)
    row = AuditLog.objects.get(action="CREATE", resource_type="accounts.ApiKey")
    assert row.resource_id == str(key.pk) and raw not in str(row.new_values)


def test_key_list_shows_only_mine(customer_api, customer, other_customer):
    services.create_api_key(user=other_customer, name="theirs")
    services.create_api_key(user=customer, name="mine")

    body = customer_api.get(api_url("me-api-keys")).json()

    assert [k["name"] for k in body["results"]] == ["mine"]


def test_revoking_my_key_stops_it_and_audits(customer_api, customer):
    key, raw = services.create_api_key(user=customer)

    response = customer_api.delete(api_url("me-api-key", key_id=key.pk))

    assert response.status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert bearer(raw).get(api_url("me")).status_code == 401
    assert AuditLog.objects.filter(
        action="DELETE", resource_type="accounts.ApiKey", resource_id=str(key.pk)
    ).exists()


def test_revoking_another_users_key_is_404_and_it_keeps_working(customer_api, other_customer):
    key, raw = services.create_api_key(user=other_customer)

    response = customer_api.delete(api_url("me-api-key", key_id=key.pk))

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert bearer(raw).get(api_url("me")).status_code == 200


def test_session_login_to_api_requires_csrf_for_writes(client, customer, password):
    client.post("/accounts/login/", {"login": customer.email, "password": password})
    api = APIClient(enforce_csrf_checks=True)
    api.cookies = client.cookies

    assert api.get(api_url("me")).status_code == 200
    response = api.patch(api_url("me"), {"first_name": "Z"}, format="json")

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.first_name == "Cara"


def test_openapi_schema_describes_the_accounts_endpoints(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/signup/",
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/me/export/",
        "/api/v1/me/sessions/",
        "/api/v1/me/sessions/{session_id}/",
        "/api/v1/me/api-keys/",
        "/api/v1/me/api-keys/{key_id}/",
    ):
        assert path in paths, path
    token_post = paths["/api/v1/auth/token/"]["post"]
    assert set(token_post["responses"]) >= {"201", "400", "401", "403", "429"}
    patch = paths["/api/v1/me/"]["patch"]["requestBody"]["content"]["application/json"]
    request_schema = patch["schema"]["$ref"].rsplit("/", 1)[-1]
    writable = schema["components"]["schemas"][request_schema]["properties"]
    assert "first_name" in writable
    assert not {"role", "status", "email_verified", "email"} & set(writable)
