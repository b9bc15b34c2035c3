"""Nothing a customer page loads or links to comes from another host: every rendered page of
the demo catalog, help centre, account and API reference is scanned for http(s) URLs and each
must be this site's own (XML namespace names, which nothing fetches, aside)."""

import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from accounts.factories import UserFactory
from catalog.selectors import visible_products
from support.models import Article

pytestmark = pytest.mark.django_db

URL = re.compile(r"""https?://[^\s"'<>)\\]+""", re.IGNORECASE)
NAMESPACES = ("http://www.w3.org/",)
PUBLIC = [
    "/catalog/",
    "/catalog/?q=widget",
    "/pricing/",
    "/collections/",
    "/help/",
    "/help/search/?q=invoice",
    "/accounts/login/",
    "/accounts/signup/",
    "/api/v1/docs/",
    "/api/v1/redoc/",
]
SIGNED_IN = [
    "/account/",
    "/account/profile/",
    "/account/sessions/",
    "/account/api-keys/",
    "/account/export/",
    "/account/delete/",
    "/cart/",
    "/orders/",
    "/billing/subscription/",
    "/billing/invoices/",
    "/credits/",
    "/support/",
    "/support/new/",
    "/support/chat/",
]


def _outside(html: str) -> list[str]:
    return [
        url
        for url in URL.findall(html)
        if not url.startswith(NAMESPACES)
        and urlsplit(url).hostname not in ("testserver", "localhost", "127.0.0.1")
    ]


def test_no_page_refers_to_another_host(client):
    call_command("seed_catalog", verbosity=0)
    call_command("seed_support", "--articles-only", verbosity=0)
    pages = PUBLIC + [p.get_absolute_url() for p in visible_products()[:40]]
    pages += [a.get_absolute_url() for a in Article.objects.all()]
    found = {}
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        found[path] = _outside(response.content.decode())
    client.force_login(UserFactory(email="local@example.com"))
    for path in SIGNED_IN:
        response = client.get(path)
        assert response.status_code == 200, path
        found[path] = _outside(response.content.decode())
    assert {path: urls for path, urls in found.items() if urls} == {}


def test_the_api_reference_pages_run_only_our_own_scripts(client):
    """Swagger UI and Redoc come from our static files and run no inline script, so the
    product's CSP (script-src 'self') lets them render."""
    for path in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
        html = response.content.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
        assert scripts, path
        for attributes, body in scripts:
            assert body.strip() == "", f"{path} has an inline script"
            src = re.search(r'src="([^"]+)"', attributes).group(1)
            assert src.startswith(("/static/", "/api/v1/docs/")), src
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
