"""API key authentication answered from the cache (accounts.api_key_cache), and every change
that must stop or alter a key seen by the very next request, through the API."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from accounts import api_key_cache, services
from accounts.authentication import ApiKeyAuthentication
from accounts.models import ApiKey, Role, Status, hash_api_key
from accounts.tests.helpers import api_url
from billing.factories import give_api_access

pytestmark = pytest.mark.django_db


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def authenticate(raw_key: str):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return ApiKeyAuthentication().authenticate(request)


def _statements(captured, verb: str, table: str) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith(verb) and table in q["sql"]
    ]


def test_a_known_key_is_authenticated_without_a_query(customer):
    key, raw = services.create_api_key(user=customer, name="ci")
    authenticate(raw)  # the first use reads the key and records it

    with CaptureQueriesContext(connection) as captured:
        user, credential = authenticate(raw)

    assert captured.captured_queries == []
    assert (user.pk, user.role, user.is_active, credential.pk) == (
        customer.pk,
        Role.CUSTOMER,
        True,
        key.pk,
    )


def test_the_user_of_a_key_loads_its_other_fields_in_one_query_when_read(customer):
    _key, raw = services.create_api_key(user=customer)
    authenticate(raw)
    user, _ = authenticate(raw)

    with CaptureQueriesContext(connection) as captured:
        assert (user.email, user.first_name, user.last_name) == (
            customer.email,
            customer.first_name,
            customer.last_name,
        )

    assert len(captured.captured_queries) == 1


def test_revoking_a_key_stops_it_on_the_next_request_even_when_cached(customer, customer_api):
    key, raw = services.create_api_key(user=customer)
    client = bearer(raw)
    assert client.get(api_url("me")).status_code == 200  # now cached

    assert customer_api.delete(api_url("me-api-key", key_id=key.pk)).status_code == 204

    response = client.get(api_url("me"))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_key_revoked_by_itself_is_refused_on_the_next_request(customer):
    give_api_access(customer)
    key, raw = services.create_api_key(user=customer)
    client = bearer(raw)

    assert client.delete(api_url("me-api-key", key_id=key.pk)).status_code == 204

    assert client.get(api_url("me")).status_code == 401


def test_suspending_and_reactivating_a_user_is_seen_by_the_next_request(customer, admin_user):
    _key, raw = services.create_api_key(user=customer)
    client = bearer(raw)
    assert client.get(api_url("me")).status_code == 200

    services.change_status(user=customer, status=Status.SUSPENDED, actor=admin_user)
    assert client.get(api_url("me")).status_code == 401

    services.change_status(user=customer, status=Status.ACTIVE, actor=admin_user)
    assert client.get(api_url("me")).status_code == 200


def test_deleting_the_account_stops_a_cached_key(customer):
    _key, raw = services.create_api_key(user=customer)
    client = bearer(raw)
    assert client.get(api_url("me")).status_code == 200

    services.delete_account(user=customer, actor=customer)

    assert client.get(api_url("me")).status_code == 401


def test_a_role_change_is_seen_by_the_next_request(customer, admin_user):
    _key, raw = services.create_api_key(user=customer)
    client = bearer(raw)
    assert client.get(api_url("me")).json()["role"] == Role.CUSTOMER

    services.change_role(user=customer, role=Role.SUPPORT, actor=admin_user)

    assert client.get(api_url("me")).json()["role"] == Role.SUPPORT


def test_last_used_at_is_written_at_most_once_a_minute(customer, monkeypatch):
    key, raw = services.create_api_key(user=customer)
    start = timezone.now()

    def at(moment):
        monkeypatch.setattr("accounts.authentication.timezone.now", lambda: moment)
        with CaptureQueriesContext(connection) as captured:
            authenticate(raw)
        return _statements(captured, "UPDATE", "accounts_apikey")

    assert len(at(start)) == 1
    assert at(start + timedelta(seconds=30)) == []
    assert at(start + timedelta(seconds=59)) == []
    assert len(at(start + timedelta(seconds=61))) == 1
    assert at(start + timedelta(seconds=62)) == []
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


def test_a_key_past_its_expiry_is_refused_although_cached(customer, monkeypatch):
    key, raw = services.create_api_key(user=customer)
    expires = timezone.now() + timedelta(minutes=5)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=expires)
    assert authenticate(raw)[1].pk == key.pk

    monkeypatch.setattr(
        "accounts.authentication.timezone.now", lambda: expires + timedelta(seconds=1)
    )

    assert bearer(raw).get(api_url("me")).status_code == 401


def test_an_unknown_key_is_refused_and_not_cached(customer):
    _key, raw = services.create_api_key(user=customer)

    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            assert bearer(raw + "x").get(api_url("me")).status_code == 401
        assert len(_statements(captured, "SELECT", "accounts_apikey")) == 1


def test_a_request_racing_a_revocation_cannot_put_the_old_entry_back(customer):
    key, raw = services.create_api_key(user=customer)
    hashed = hash_api_key(raw)
    # What a request in flight read just before the revocation committed...
    seen_before = api_key_cache._read(hashed)

    services.revoke_api_key(user=customer, key_id=key.pk, actor=customer)
    # ...and writes to the cache just after it (the way credential() fills it).
    cache.add(api_key_cache.CACHE_PREFIX + hashed, seen_before, api_key_cache.ENTRY_SECONDS)

    assert bearer(raw).get(api_url("me")).status_code == 401
