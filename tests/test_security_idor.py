"""Another customer's rows answer 404; staff pages and endpoints refuse customers.

The tables below are checked against Django's URL resolver: every /api/v1/ route and every
page with a path parameter must be in OWNED (walked with another customer's ids), in PUBLIC
(with the reason it is not owned by a customer) or be a staff route; a new endpoint that is in
none of them fails test_every_parameterised_route_is_classified until someone classifies it.
"""

import dataclasses
import re
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.models import ApiKey, LoginSession
from accounts.services import change_status, create_api_key, revoke_api_key
from billing.factories import give_api_access
from billing.models import Cart, CartItem
from catalog.factories import ProductFactory
from credits.selectors import balance_of
from credits.services import grant_credits
from tests import idor_rows

# --- the URL map -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "api:billing-order"
    route: str  # e.g. "api/v1/orders/<str:number>/"

    @property
    def params(self) -> list[str]:
        found = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", self.route)
        return [converter or regex for converter, regex in found]


def all_routes(patterns=None, prefix="", namespace=None) -> list[Route]:
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if entry.namespace and namespace:
                ns = f"{namespace}:{entry.namespace}"
            routes += all_routes(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            routes.append(Route(name, prefix + str(entry.pattern)))
    return routes


# --- the rows another customer owns ----------------------------------------------------------


@pytest.fixture
def owned(other_customer):
    """One of each customer-owned row, all belonging to other_customer."""

    rows = idor_rows.shop_rows(other_customer)
    rows |= idor_rows.support_rows(other_customer)
    rows |= idor_rows.sign_in_rows(other_customer)
    rows |= idor_rows.subscription_rows(other_customer, order=rows["order"])
    rows |= idor_rows.linked_rows(other_customer)
    rows |= idor_rows.paid_rows(other_customer, invoice=rows["invoice"])
    return {
        "customer_file": rows["customer_file"],
        "social_account": rows["social_account"],
        "order": rows["order"],
        "item": rows["item"],
        "cart_item": rows["cart_item"],
        "ticket": rows["ticket"],
        "message": rows["message"],
        "attachment": rows["attachment"],
        "conversation": rows["conversation"],
        "bot_answer": rows["bot_answer"],
        "login_session": rows["login_session"],
        "api_key": rows["api_key"],
        "subscription": rows["subscription"],
        "invoice": rows["invoice"],
        "credit_note": rows["credit_note"],
        "payment": rows["payment"],
    }


@dataclasses.dataclass(frozen=True)
class Owned:
    name: str
    methods: tuple[str, ...]
    kwargs: Callable[[dict], dict]


_ORDER = {"number": lambda o: o["order"].number}
OWNED = [
    # API
    Owned("api:me-session", ("delete",), lambda o: {"session_id": o["login_session"].pk}),
    Owned("api:me-api-key", ("delete",), lambda o: {"key_id": o["api_key"].pk}),
    Owned(
        "api:billing-cart-item",
        ("get", "patch", "delete"),
        lambda o: {"item_id": o["cart_item"].pk},
    ),
    Owned("api:billing-order", ("get",), lambda o: {"number": o["order"].number}),
    Owned(
        "api:billing-order-download",
        ("get",),
        lambda o: {"number": o["order"].number, "item_id": o["item"].pk},
    ),
    Owned("api:billing-subscription", ("get",), lambda o: {"pk": o["subscription"].pk}),
    Owned("api:billing-subscription-cancel", ("post",), lambda o: {"pk": o["subscription"].pk}),
    Owned("api:billing-subscription-resume", ("post",), lambda o: {"pk": o["subscription"].pk}),
    Owned(
        "api:billing-subscription-change-plan", ("post",), lambda o: {"pk": o["subscription"].pk}
    ),
    Owned(
        "api:billing-subscription-payment-method", ("post",), lambda o: {"pk": o["subscription"].pk}
    ),
    Owned("api:billing-invoice", ("get",), lambda o: {"number": o["invoice"].number}),
    Owned("api:billing-payment", ("get",), lambda o: {"pk": o["payment"].pk}),
    Owned("api:support-ticket", ("get",), lambda o: {"pk": o["ticket"].pk}),
    Owned("api:support-ticket-messages", ("post",), lambda o: {"pk": o["ticket"].pk}),
    Owned("api:support-ticket-close", ("post",), lambda o: {"pk": o["ticket"].pk}),
    Owned("api:support-chat-handoff", ("post",), lambda o: {"pk": o["conversation"].pk}),
    Owned(
        "api:support-chat-rate",
        ("post",),
        lambda o: {"pk": o["conversation"].pk, "mid": o["bot_answer"].pk},
    ),
    Owned("api:files-detail", ("get", "delete"), lambda o: {"pk": o["customer_file"].pk}),
    Owned("api:files-download", ("get",), lambda o: {"pk": o["customer_file"].pk}),
    # pages
    Owned(
        "social_signin:unlink", ("get", "post"), lambda o: {"account_id": o["social_account"].pk}
    ),
    Owned("files:download", ("get",), lambda o: {"file_id": o["customer_file"].pk}),
    Owned("files:delete", ("get", "post"), lambda o: {"file_id": o["customer_file"].pk}),
    Owned("accounts:revoke_session", ("post",), lambda o: {"session_id": o["login_session"].pk}),
    Owned("accounts:revoke_api_key", ("post",), lambda o: {"key_id": o["api_key"].pk}),
    Owned("billing:order", ("get",), lambda o: {"number": o["order"].number}),
    Owned("billing:invoice", ("get",), lambda o: {"number": o["order"].number}),
    Owned(
        "billing:download",
        ("get",),
        lambda o: {"number": o["order"].number, "item_id": o["item"].pk},
    ),
    Owned("billing:subscription-cancel", ("post",), lambda o: {"pk": o["subscription"].pk}),
    Owned("billing:subscription-resume", ("post",), lambda o: {"pk": o["subscription"].pk}),
    Owned(
        "billing:subscription-change-plan", ("get", "post"), lambda o: {"pk": o["subscription"].pk}
    ),
    Owned("billing:subscription-payment-method", ("post",), lambda o: {"pk": o["subscription"].pk}),
    Owned("billing:subscription-invoice", ("get",), lambda o: {"number": o["invoice"].number}),
    Owned("billing:credit-note", ("get",), lambda o: {"number": o["credit_note"].number}),
    Owned("billing:invoice-pdf", ("get",), lambda o: {"number": o["invoice"].number}),
    Owned("billing:payment", ("get",), lambda o: {"pk": o["payment"].pk}),
    Owned("billing:payment-pdf", ("get",), lambda o: {"pk": o["payment"].pk}),
    Owned("support:ticket", ("get",), lambda o: {"pk": o["ticket"].pk}),
    Owned("support:ticket_reply", ("post",), lambda o: {"pk": o["ticket"].pk}),
    Owned("support:ticket_close", ("post",), lambda o: {"pk": o["ticket"].pk}),
    Owned(
        "support:attachment",
        ("get",),
        lambda o: {"pk": o["ticket"].pk, "file_id": o["attachment"].pk},
    ),
]

# A body that passes validation, so that only the ownership check can refuse the request.
VALID_BODIES = {
    "api:billing-cart-item": {"quantity": 1},
    "api:support-ticket-messages": {"body": "Let me in."},
    "api:support-chat-rate": {"helpful": True},
    "support:ticket_reply": {"body": "Let me in."},
}

# Routes with a path parameter that name no customer's row, and why.
PUBLIC = {
    "api:billing-included-download": "a product's file for whoever's live plan includes it "
    "(the plan is the check; anyone else gets 403 entitlement_required)",
    "billing:included-download": "the same download as a page",
    "api:catalog-product-detail": "published catalog, readable by anyone",
    "api:catalog-product-reviews": "reviews of a published product are public",
    "api:catalog-review-helpful": "any signed-in customer may vote on others' reviews",
    "api:catalog-collection-detail": "published collection",
    "api:support-kb-article": "published help article",
    "catalog:category": "catalog page",
    "catalog:product": "catalog page",
    "catalog:review-create": "writes the caller's own review of a public product",
    "catalog:review-helpful": "any signed-in customer may vote on others' reviews",
    "catalog:collection": "catalog page",
    "catalog:image": "product pictures of the public catalog",
    "billing:subscribe": "a plan slug from the public pricing page",
    "support:help_article": "published help article",
    "account_confirm_email": "allauth: the secret key in the URL is the credential",
    "account_reset_password_from_key": "allauth: the secret key in the URL is the credential",
    "admin:view_on_site": "Django's shortcut: redirects to the object's public URL",
}
# Routes only staff may use (besides everything under /admin/).
STAFF_API = {"api:analytics-metrics"}


def _snapshot(rows: dict) -> dict:
    state = {}
    for key, row in rows.items():
        fresh = type(row).objects.filter(pk=row.pk).values().first()
        state[key] = fresh
    state["ticket_messages"] = rows["ticket"].messages.count()
    state["django_sessions"] = Session.objects.count()
    return state


def _customer_clients(customer):
    give_api_access(customer)
    _, raw = create_api_key(user=customer, name="attacker")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    page = Client()
    page.force_login(customer)
    return api, page


# --- another customer's ids -> 404, nothing changes ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("entry", OWNED, ids=lambda e: e.name)
def test_another_customers_row_answers_404_and_changes_nothing(entry, customer, owned):
    api, page = _customer_clients(customer)
    client = api if entry.name.startswith("api:") else page
    url = reverse(entry.name, kwargs=entry.kwargs(owned))
    before = _snapshot(owned)
    for method in entry.methods:
        response = getattr(client, method)(url, VALID_BODIES.get(entry.name, {}))
        assert response.status_code == 404, (method.upper(), url, response.status_code)
    assert _snapshot(owned) == before


@pytest.mark.django_db
@pytest.mark.parametrize("entry", [e for e in OWNED if "get" in e.methods], ids=lambda e: e.name)
def test_the_owner_reaches_the_same_row(entry, other_customer, owned):
    """The control: the 404 above is about ownership, not a bad URL."""
    api, page = _customer_clients(other_customer)
    client = api if entry.name.startswith("api:") else page
    response = client.get(reverse(entry.name, kwargs=entry.kwargs(owned)))
    assert response.status_code != 404, reverse(entry.name, kwargs=entry.kwargs(owned))


@pytest.mark.django_db
def test_customer_lists_and_balances_show_only_their_own_rows(customer, owned, other_customer):
    api, _ = _customer_clients(customer)
    assert api.get("/api/v1/orders/").json()["results"] == []
    assert api.get("/api/v1/tickets/").json()["results"] == []
    assert api.get("/api/v1/cart/").json().get("items", []) == []
    sessions = [s["id"] for s in api.get("/api/v1/me/sessions/").json()["results"]]
    assert owned["login_session"].pk not in sessions
    keys = [k["name"] for k in api.get("/api/v1/me/api-keys/").json()["results"]]
    assert keys == ["attacker"]
    invoices = api.get("/api/v1/invoices/").json()
    assert (invoices["results"] if isinstance(invoices, dict) else invoices) == []
    grant_credits(user=other_customer, amount=777, source="PROMO")
    summary = api.get("/api/v1/credits/").json()
    assert summary["balance"] == balance_of(user=customer)
    assert 777 not in [lot["remaining"] for lot in summary["lots"]]
    ledger = api.get("/api/v1/credits/transactions/").json()["results"]
    assert all(row["amount"] != 777 for row in ledger)


def test_every_parameterised_route_is_classified():
    owned = {e.name for e in OWNED}
    missing = []
    for route in all_routes():
        if route.name.startswith("admin:") or not route.params:
            continue
        if route.name in owned or route.name in PUBLIC or route.name in STAFF_API:
            continue
        missing.append(f"{route.name} ({route.route})")
    assert missing == [], "classify these routes in OWNED, PUBLIC or STAFF_API"
    api_routes = {r.name for r in all_routes() if r.name.startswith("api:analytics")}
    assert api_routes <= STAFF_API


# --- staff only ------------------------------------------------------------------------------


def _admin_urls() -> list[str]:

    labels = sorted({m._meta.app_label for m in admin.site._registry})
    urls = []
    for route in all_routes():
        if not route.name.startswith("admin:") or route.name in PUBLIC:
            continue
        if route.name in ("admin:login", "admin:logout"):
            continue
        kwargs = {}
        for param in route.params:
            kwargs[param] = {"app_label": labels[0], "url": "anything/"}.get(param, "1")
        urls.append(reverse(route.name, kwargs=kwargs))
    return sorted(set(urls))


@pytest.mark.django_db
def test_every_admin_page_sends_a_customer_to_the_admin_login(customer):
    client = Client()
    client.force_login(customer)
    urls = _admin_urls()
    assert len(urls) > 50  # every registered model's changelist, add, change, delete, history
    wrong = {}
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 404) or (
                response.status_code == 302 and not location.startswith("/admin/login/")
            ):
                wrong[f"{method.upper()} {url}"] = (response.status_code, location)
    assert wrong == {}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(STAFF_API))
def test_staff_api_refuses_a_customer_with_403(name, customer):
    api, _ = _customer_clients(customer)
    response = api.get(reverse(name))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


# --- sign-in hardening -----------------------------------------------------------------------


@pytest.mark.django_db
def test_login_locks_out_after_five_failures_even_with_the_right_password(customer, password):
    client = Client()
    for _ in range(5):
        response = client.post(
            "/accounts/login/", {"login": customer.email, "password": "wrong-password"}
        )
        assert "_auth_user_id" not in client.session
    response = client.post("/accounts/login/", {"login": customer.email, "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert not LoginSession.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_login_rotates_the_session_key(customer, password):
    client = Client()
    session = client.session
    session["before_login"] = True
    session.save()
    client.cookies["sessionid"] = session.session_key
    before = session.session_key
    response = client.post("/accounts/login/", {"login": customer.email, "password": password})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert LoginSession.objects.get(user=customer).session_key == after


@pytest.mark.django_db
def test_password_change_ends_the_users_other_sessions(customer, password):
    this_browser, other_browser = Client(), Client()
    for browser in (this_browser, other_browser):
        response = browser.post("/accounts/login/", {"login": customer.email, "password": password})
        assert response.status_code == 302
    other_key = other_browser.cookies["sessionid"].value
    response = this_browser.post(
        "/accounts/password/change/",
        {
            "oldpassword": password,
            "password1": "a-brand-new-passphrase-42",
            "password2": "a-brand-new-passphrase-42",
        },
    )
    assert response.status_code == 302
    # The browser that changed it stays signed in; the other one is signed out.
    assert this_browser.get("/account/").status_code == 200
    response = other_browser.get("/account/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # And its record says so: the sessions page no longer lists it as active.
    record = LoginSession.objects.get(session_key=other_key)
    assert record.revoked_at is not None
    assert not Session.objects.filter(session_key=other_key).exists()


@pytest.mark.django_db
def test_a_revoked_api_key_and_a_suspended_user_cannot_call_the_api(customer):
    key, raw = create_api_key(user=customer, name="soon revoked")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200
    # Through the service every revocation path uses (API, page, admin): it drops the key's
    # cached entry (accounts.api_key_cache), so the very next request is refused.
    revoke_api_key(user=customer, key_id=key.pk, actor=customer)
    assert api.get("/api/v1/me/").status_code == 401
    other = UserFactory()
    _, raw = create_api_key(user=other)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200
    change_status(user=other, status="SUSPENDED", actor=None, reason="test")
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_token_endpoint_locks_out_after_five_failures(customer, password):
    api = APIClient()
    statuses = [
        api.post(
            "/api/v1/auth/token/",
            {"email": customer.email, "password": "wrong-password"},
            format="json",
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure locks the account out
    response = api.post(
        "/api/v1/auth/token/", {"email": customer.email, "password": password}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert not ApiKey.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_owner_reading_a_cart_line_without_a_price_gets_an_answer_not_a_500(customer):

    item = CartItem.objects.create(
        cart=Cart.objects.create(user=customer), product=ProductFactory(), quantity=1
    )
    api = APIClient(raise_request_exception=False)
    give_api_access(customer)
    _, raw = create_api_key(user=customer)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.get(f"/api/v1/cart/items/{item.pk}/")
    # Found by this suite (StopIteration -> 500); billing answers 400 since 592646b.
    assert response.status_code == 400
    assert response.json()["code"]
