"""One entitlement check for the API (accounts.entitlements.RequiresEntitlement): a customer's
API key works only with a plan that includes ``api_access`` (403 ``entitlement_required``
naming the plans), staff keys and browser sessions are not gated, the status endpoints stay
open, changes to the subscription or the plan are seen by the next request, and the check
costs no query (the key's cached entry carries the entitlements)."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.entitlements import RequiresEntitlement
from accounts.services import create_api_key
from billing.entitlements import EntitlementRequired
from billing.factories import give_api_access
from billing.models import SubscriptionStatus
from catalog.factories import PlanFactory, ProductFactory
from credits.models import GrantSource
from credits.services import grant_credits

pytestmark = pytest.mark.django_db

GATED = ("/api/v1/products/", "/api/v1/credits/", "/api/v1/orders/", "/api/v1/files/")
OPEN = ("/api/v1/me/", "/api/v1/membership/", "/api/v1/entitlements/")


def bearer(user) -> APIClient:
    _key, raw = create_api_key(user=user, name="client")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_customer_key_without_api_access_is_refused_naming_the_plans(customer):
    PlanFactory(name="Pro", slug="pro", entitlements=["api_access"], sort_order=1)
    PlanFactory(name="Basic", slug="basic", entitlements=["sso"], sort_order=0)
    client = bearer(customer)

    for url in GATED:
        response = client.get(url)
        assert response.status_code == 403, url
        body = response.json()
        assert body["code"] == "entitlement_required" and body["entitlement"] == "api_access"
        assert body["plans"] == ["pro"] and "Pro" in body["detail"]
    # A client can still learn why.
    for url in OPEN:
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/me/").json()["membership"]["status"] == "NONE"


def test_a_key_without_api_access_reads_its_status_but_changes_nothing(customer):
    """The status endpoints are open to such a key for reading only: changing the profile or
    deleting the account through it is refused like any other API call, and changes
    nothing (the web pages remain for that)."""
    customer.set_password("a-much-longer-passphrase-42")
    customer.save()
    name_before = customer.first_name
    client = bearer(customer)
    assert client.get("/api/v1/me/").status_code == 200

    changed = client.patch("/api/v1/me/", {"first_name": "Mallory"}, format="json")
    deleted = client.delete(
        "/api/v1/me/", {"password": "a-much-longer-passphrase-42"}, format="json"
    )

    for response in (changed, deleted):
        assert response.status_code == 403
        assert response.json()["code"] == "entitlement_required"
    customer.refresh_from_db()
    assert customer.first_name == name_before and customer.is_active
    # With the plan's api_access the same key may change the profile.
    give_api_access(customer)
    assert client.patch("/api/v1/me/", {"first_name": "Ada"}, format="json").status_code == 200
    customer.refresh_from_db()
    assert customer.first_name == "Ada"


def test_the_customers_own_pages_and_staff_keys_are_not_gated(customer, client, support_agent):
    client.force_login(customer)
    assert client.get("/api/v1/credits/").status_code == 200
    assert client.get("/api/v1/products/").status_code == 200

    staff = bearer(support_agent)
    assert staff.get("/api/v1/products/").status_code == 200


def test_subscription_and_plan_changes_are_seen_by_the_next_request(customer):
    subscription = give_api_access(customer)
    client = bearer(customer)
    assert client.get("/api/v1/credits/").status_code == 200  # the entry is cached now

    plan = subscription.plan
    plan.entitlements = ["sso"]
    plan.save()
    assert client.get("/api/v1/credits/").status_code == 403

    plan.entitlements = ["api_access"]
    plan.save()
    assert client.get("/api/v1/credits/").status_code == 200

    subscription.status = SubscriptionStatus.CANCELED
    subscription.save()
    assert client.get("/api/v1/credits/").status_code == 403


def test_a_view_may_require_an_entitlement_of_its_own(customer):
    class View:
        required_entitlement = "sso"

    give_api_access(customer)
    request = SimpleNamespace(user=customer, auth=None)
    with pytest.raises(EntitlementRequired) as refused:
        RequiresEntitlement().has_permission(request, View())
    assert refused.value.extra["entitlement"] == "sso"
    give_api_access(customer, "sso")
    assert RequiresEntitlement().has_permission(request, View())


@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/credits/"])
def test_the_check_costs_no_query_on_a_cached_key(customer, support_agent, url):
    give_api_access(customer)
    grant_credits(user=customer, amount=50, source=GrantSource.PROMO, idempotency_key="q")
    ProductFactory()
    customer_client, staff_client = bearer(customer), bearer(support_agent)
    for client in (customer_client, staff_client):
        assert client.get(url).status_code == 200  # reads and caches the key's entry
        assert client.get(url).status_code == 200  # records its use

    with CaptureQueriesContext(connection) as gated:
        assert customer_client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ungated:
        assert staff_client.get(url).status_code == 200

    statements = [q["sql"] for q in gated.captured_queries]
    assert not [sql for sql in statements if "billing_subscription" in sql], statements
    # A staff key is never gated: the customer's key costs not one query more.
    assert len(gated.captured_queries) <= len(ungated.captured_queries), statements


def _api_views(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None)
            if view is not None and (prefix + str(entry.pattern)).startswith("api/v1/"):
                yield prefix + str(entry.pattern), view


def test_every_api_view_that_accepts_a_key_checks_entitlements():
    """A view that sets its own permissions lists RequiresEntitlement too (the API's
    documents, served by drf-spectacular, excepted: they describe the API to anyone)."""
    views = list(_api_views(get_resolver()))
    assert len(views) > 30
    missing = [
        route
        for route, view in views
        if view().get_authenticators()  # sign-up and token take no credentials
        and not view.__module__.startswith("drf_spectacular")
        and RequiresEntitlement not in view.permission_classes
    ]
    assert missing == []


def test_the_api_keys_page_offers_an_upgrade_instead_of_useless_keys(customer, client):
    PlanFactory(name="Pro", slug="pro", entitlements=["api_access"])
    client.force_login(customer)

    page = client.get("/account/api-keys/").content.decode()
    assert 'data-entitlement="api_access"' in page and "Pro" in page
    assert "/account/api-keys/new/" not in page
    refused = client.post("/account/api-keys/new/", {"name": "laptop"})
    assert refused.status_code == 403 and b"upgrade-prompt" in refused.content
    assert not customer.api_keys.exists()

    give_api_access(customer)
    page = client.get("/account/api-keys/").content.decode()
    assert "upgrade-prompt" not in page and "/account/api-keys/new/" in page
    assert client.post("/account/api-keys/new/", {"name": "laptop"}).status_code == 201
