"""The API reference pages render in a browser from the product's own files: operations
listed, no console error (a CSP refusal would be one) and nothing asked of another host
(both checked on every page by the suite's watcher)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_lists_the_operations(page):
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    page.goto("/api/v1/docs/")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert page.locator(".opblock").count() > 20
    expect(page.get_by_role("button", name=re.compile(r"^GET \/api\/v1\/")).first).to_be_visible()
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    page.shots("swagger-ui", full_page=False)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in sent)
    assert any(url.endswith("/api/v1/schema/") for url in sent)


def test_redoc_lists_the_operations(page):
    page.goto("/api/v1/redoc/")
    expect(page.locator("[data-section-id^='operation/']").first).to_be_attached(timeout=20_000)
    assert page.locator("[data-section-id^='operation/']").count() > 20
    page.shots("redoc", full_page=False)
