"""Malformed or hostile input answers a clean 4xx, never a 500, and under /api/ every answer
is JSON in the shared error shape (``code``, ``detail``, ``fields``)."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.parsers import MAX_JSON_DEPTH


def _browser(user=None, **kwargs):
    browser = Client(raise_request_exception=False, **kwargs)
    if user is not None:
        browser.force_login(user)
    return browser


def _api_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["fields"] == {}


# --- a NUL byte in the path -------------------------------------------------------------------
# PostgreSQL refuses NUL in text; a <str:...> converter used to carry it to the lookup (500).

NUL_PAGES = [
    "/orders/%00/",
    "/orders/ORD-%00-1/",
    "/orders/%00/invoice/",
    "/orders/%00/items/1/download/",
    "/billing/invoices/%00/",
    "/billing/invoices/%00/pdf/",
    "/catalog/%00/",
    "/help/%00/",
    "/billing/subscribe/%00/",
]
NUL_API = [
    "/api/v1/orders/%00/",
    "/api/v1/orders/%00/items/1/download/",
    "/api/v1/invoices/%00/",
    "/api/v1/subscriptions/%00/",
    "/api/v1/products/%00/",
    "/api/v1/kb/articles/%00/",
    "/api/v1/collections/%00/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", NUL_PAGES)
def test_a_nul_byte_in_a_page_path_is_not_found(customer, path):
    response = _browser(customer).get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("path", NUL_API)
def test_a_nul_byte_in_an_api_path_is_a_json_404(customer, path):
    _api_error(_browser(customer).get(path), 404, "not_found")


@pytest.mark.django_db
def test_a_nul_byte_in_an_admin_object_path_is_not_found(admin_user):
    # dj-stripe's rows have text primary keys: the lookup reached the database too.
    response = _browser(admin_user).get("/admin/djstripe/customer/cus_%00/change/")

    assert response.status_code == 404


# --- JSON nested too deeply -------------------------------------------------------------------

DEEP_LIST = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.django_db
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/auth/token/"),
        ("post", "/api/v1/auth/signup/"),
        ("patch", "/api/v1/me/"),
        ("post", "/api/v1/credits/consume/"),
        ("post", "/api/v1/checkout/"),
        ("post", "/api/v1/tickets/"),
        ("post", "/api/v1/cart/"),
    ],
)
def test_deeply_nested_json_is_a_parse_error(customer, method, path, body):
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(customer)

    response = getattr(api, method)(path, data=body, content_type="application/json")

    _api_error(response, 400, "parse_error")
    assert "nested" in response.json()["detail"]


@pytest.mark.django_db
def test_json_nested_within_the_limit_is_read_as_usual(api_client):

    nested = {"email": "someone@example.com", "password": "x"}
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = {"wrapped": nested}

    response = api_client.post(
        "/api/v1/auth/token/", data=json.dumps(nested), content_type="application/json"
    )

    # The serializer sees the document: the fields are missing, not the JSON unreadable.
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- Django's own errors under /api/ answer JSON ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/nope", "/api/nope/"])
def test_an_unknown_api_path_is_a_json_404(path):
    _api_error(_browser().get(path), 404, "not_found")


TEN_MB = 10 * 1024 * 1024


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_json_413():
    body = json.dumps({"email": "a" * TEN_MB, "password": "x"})

    response = _browser().post("/api/v1/auth/token/", data=body, content_type="application/json")

    _api_error(response, 413, "request_too_large")


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_json_413_for_a_signed_in_customer(customer):
    body = json.dumps({"subject": "a" * TEN_MB, "body": "x"})

    response = _browser(customer).post(
        "/api/v1/tickets/", data=body, content_type="application/json"
    )

    _api_error(response, 413, "request_too_large")


@pytest.mark.django_db
def test_a_refused_host_is_a_json_400_under_api():
    _api_error(_browser().get("/api/v1/products/", HTTP_HOST="evil.example"), 400, "bad_request")


@pytest.mark.django_db
def test_too_many_query_fields_is_a_json_400_under_api():
    query = "&".join(f"f{n}=1" for n in range(1500))

    _api_error(_browser().get(f"/api/v1/products/?{query}"), 400, "bad_request")


@pytest.mark.django_db
def test_outside_api_django_error_pages_stay_html():
    response = _browser().get("/catalog/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_wrong_method_on_an_api_endpoint_is_a_json_405(customer):
    _api_error(_browser(customer).delete("/api/v1/products/"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_a_failed_csrf_check_on_an_api_endpoint_is_a_json_403(customer):
    browser = _browser(customer, enforce_csrf_checks=True)

    response = browser.post("/api/v1/tickets/", data={}, content_type="application/json")

    _api_error(response, 403, "permission_denied")


# Plain Django views (config/tests/error_urls.py) reach Django's handlers themselves.


@pytest.mark.django_db
@pytest.mark.urls("config.tests.error_urls")
def test_django_permission_denied_under_api_is_a_json_403(customer):
    _api_error(_browser(customer).get("/api/v1/plain/forbidden/"), 403, "permission_denied")
    assert _browser(customer).get("/plain/forbidden/")["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.urls("config.tests.error_urls")
def test_django_csrf_failure_under_api_is_a_json_403(customer):
    browser = _browser(customer, enforce_csrf_checks=True)

    _api_error(browser.post("/api/v1/plain/post/"), 403, "permission_denied")
    page = browser.post("/plain/post/")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.urls("config.tests.error_urls")
def test_an_unhandled_error_under_api_is_a_json_500(settings):
    assert settings.DEBUG is False

    _api_error(_browser().get("/api/v1/plain/crash/"), 500, "server_error")
    page = _browser().get("/plain/crash/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
