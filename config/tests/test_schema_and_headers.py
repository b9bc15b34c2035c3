import pytest
from django.core.management import call_command

from billing.factories import SubscriptionFactory
from billing.models import SubscriptionStatus

ERROR_KEYS = {"code", "detail", "fields"}


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    # A warning means drf-spectacular had to guess: the published schema would then lie.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert b"openapi" in schema.content
    assert docs.status_code == 200


@pytest.mark.django_db
def test_pages_send_security_headers(client):
    response = client.get("/healthz/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_api_errors_use_the_shared_shape(api_client):
    response = api_client.get("/api/v1/does-not-exist/")
    assert response.status_code == 404

    unauthenticated = api_client.get("/api/v1/me/")
    assert unauthenticated.status_code in (401, 403)
    assert set(unauthenticated.json()) >= ERROR_KEYS
    assert unauthenticated.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_home_leads_to_the_catalog_and_the_layout_links_every_customer_area(customer_client):
    assert customer_client.get("/").url == "/catalog/"

    page = customer_client.get("/catalog/").content.decode()
    for href in (
        "/cart/",
        "/orders/",
        "/billing/subscription/",
        "/billing/invoices/",
        "/credits/",
        "/support/",
        "/account/",
        "/pricing/",
        "/help/",
    ):
        assert f'href="{href}"' in page, href
    assert 'href="/admin/"' not in page  # staff link only for staff


@pytest.mark.django_db
def test_layout_shows_the_past_due_and_low_balance_banners_once(customer_client, customer):

    SubscriptionFactory(user=customer, status=SubscriptionStatus.PAST_DUE)
    page = customer_client.get("/credits/").content.decode()

    assert page.count("Fix your payment") == 1
    assert page.count('data-testid="low-balance-banner"') == 1  # a fresh customer has 0 credits
