"""Rate limits: each scope refuses the request after its limit with 429, ``Retry-After`` and the
API's error code, and the refused request does nothing. Rates here are ones a deployment would
set (the suite's own settings raise every limit out of reach).

The limit is one count for all web processes: test_limit_holds_across_processes sends one
client's requests from several Django processes at once against Redis.
"""

import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.models import ApiKey, LoginSession, User
from accounts.services import create_api_key
from billing.factories import give_api_access
from config import throttling
from config.env import ConfigurationError, rate_limits
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditTransaction
from support.models import ChatMessage, Ticket
from tests.test_security_idor import all_routes

ROOT = Path(__file__).resolve().parents[2]
STRONG = "a-much-longer-passphrase-42"
_emails = itertools.count()


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _limit(settings, scope: str, rate: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, scope: rate}


def _with_key(user) -> APIClient:
    give_api_access(user)
    _, raw = create_api_key(user=user, name="client")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@dataclass
class Case:
    """``client(customer)`` makes the client; ``send(client, customer)`` one request;
    ``effect()`` counts what the requests did."""

    scope: str
    rate: str
    client: object
    send: object
    effect: object


def _signup(client, customer):
    return client.post(
        "/api/v1/auth/signup/",
        {"email": f"new{next(_emails)}@example.com", "password": STRONG},
        format="json",
    )


def _login_page(client, customer):
    # Each attempt from a new browser (the limit is per IP: all of them are 127.0.0.1).
    return Client().post(
        "/accounts/login/", {"login": customer.email, "password": STRONG}, HTTP_ACCEPT="text/html"
    )


CASES = {
    "anon": Case(
        "anon",
        "20/min",
        lambda c: APIClient(),
        lambda client, c: client.get("/api/v1/products/"),
        lambda: 0,
    ),
    "user": Case(
        "user", "30/min", _with_key, lambda client, c: client.get("/api/v1/credits/"), lambda: 0
    ),
    "signup": Case(
        "signup", "10/hour", lambda c: APIClient(), _signup, lambda: User.objects.count()
    ),
    "token": Case(
        "token",
        "10/min",
        lambda c: APIClient(),
        lambda client, c: client.post(
            "/api/v1/auth/token/", {"email": c.email, "password": STRONG}, format="json"
        ),
        lambda: ApiKey.objects.count(),
    ),
    "token-login-page": Case(
        "token", "10/min", lambda c: None, _login_page, lambda: LoginSession.objects.count()
    ),
    "token-new-api-key": Case(
        "token",
        "10/min",
        _with_key,
        lambda client, c: client.post("/api/v1/me/api-keys/", {"name": "more"}, format="json"),
        lambda: ApiKey.objects.count(),
    ),
    "password_reset": Case(
        "password_reset",
        "5/hour",
        lambda c: Client(),
        lambda client, c: client.post("/accounts/password/reset/", {"email": c.email}),
        lambda: len(mail.outbox),
    ),
    "credits_consume": Case(
        "credits_consume",
        "10/min",
        _with_key,
        lambda client, c: client.post(
            "/api/v1/credits/consume/", {"operation": "AI_TEXT_CHAT", "quantity": 1}, format="json"
        ),
        lambda: CreditTransaction.objects.filter(kind="CONSUME").count(),
    ),
    "chat": Case(
        "chat",
        "5/min",
        _with_key,
        lambda client, c: client.post(
            "/api/v1/chat/", {"message": "How do I change my plan?"}, format="json"
        ),
        lambda: ChatMessage.objects.count(),
    ),
    "ticket_create": Case(
        "ticket_create",
        "5/hour",
        _with_key,
        lambda client, c: client.post(
            "/api/v1/tickets/",
            {"subject": "Invoice question", "description": "Which VAT?", "priority": "LOW"},
            format="json",
        ),
        lambda: Ticket.objects.count(),
    ),
    "stripe_webhook": Case(
        "stripe_webhook",
        "60/min",
        lambda c: Client(),
        lambda client, c: client.post(
            "/webhooks/stripe/",
            b"{}",
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE="t=1,v1=0",
        ),
        lambda: 0,
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_scope_answers_429_with_retry_after_after_its_limit_and_does_nothing(name, settings):
    case = CASES[name]
    _limit(settings, case.scope, case.rate)
    allowed, period = throttling.parse_rate(case.rate)
    customer = UserFactory(password=STRONG)
    funded_user(credits=1000, user=customer)
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=1)
    client = case.client(customer)

    for number in range(allowed):
        response = case.send(client, customer)
        assert response.status_code != 429, (number, response.content[:300])
    before = case.effect()
    refused = case.send(client, customer)

    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= period
    if name == "token-login-page":  # a browser gets a page
        assert "Too many requests" in refused.content.decode()
    else:
        body = refused.json()
        assert body["code"] == "throttled" and body["retry_after"] == retry_after
        assert body["detail"]
    assert case.effect() == before
    assert throttling.throttled_counts()[case.scope] == 1


def test_every_route_of_the_table_exists():

    names = {route.name for route in all_routes()}
    assert sorted(set(throttling.ROUTES) - names) == []


@pytest.mark.django_db
def test_each_api_key_and_each_anonymous_ip_has_its_own_budget(settings, customer):
    _limit(settings, "user", "3/min")
    _limit(settings, "anon", "3/min")
    first, second = _with_key(customer), _with_key(customer)
    assert [first.get("/api/v1/credits/").status_code for _ in range(4)] == [200] * 3 + [429]
    assert second.get("/api/v1/credits/").status_code == 200

    here, elsewhere = APIClient(), APIClient(REMOTE_ADDR="203.0.113.7")
    assert [here.get("/api/v1/products/").status_code for _ in range(4)] == [200] * 3 + [429]
    assert elsewhere.get("/api/v1/products/").status_code == 200


@pytest.mark.django_db
def test_a_window_reopens_when_its_period_is_over(settings):
    _limit(settings, "anon", "2/min")
    client = APIClient()
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        assert [client.get("/api/v1/products/").status_code for _ in range(3)] == [200, 200, 429]
        clock.shift(30)
        assert client.get("/api/v1/products/")["Retry-After"] == "30"
        clock.shift(31)
        assert client.get("/api/v1/products/").status_code == 200


@pytest.mark.django_db
def test_a_cache_outage_lets_requests_through(settings):
    """Redis down must not lock every client out: the limit is skipped, the request served."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    _limit(settings, "anon", "1/min")
    client = APIClient()
    assert [client.get("/api/v1/products/").status_code for _ in range(3)] == [200] * 3


def test_rates_from_the_environment_are_checked_at_start(monkeypatch):

    monkeypatch.setenv("RATE_LIMIT_SIGNUP", "5/fortnight")
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_SIGNUP"):
        rate_limits()
    monkeypatch.setenv("RATE_LIMIT_SIGNUP", "off")
    monkeypatch.setenv("RATE_LIMIT_CHAT", "12/hour")
    rates = rate_limits()
    assert rates["signup"] is None and rates["chat"] == "12/hour"


# --- Redis: one script per counted request ------------------------------------------------


@pytest.fixture
def redis_cache(redis_url, settings):
    """The production cache on the test Redis, under a prefix of its own; returns a Redis
    client and the prefix."""
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    client = redis.Redis.from_url(redis_url)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.mark.redis
def test_on_redis_a_window_is_one_counter_that_expires_with_the_window(redis_cache, settings):
    client, prefix = redis_cache
    _limit(settings, "signup", "2/min")
    answers = [throttling.hit("signup", "ip:198.51.100.30") for _ in range(3)]
    assert answers == [None, None, 60]
    # One key per client and scope, counted by the script, expiring when the window closes;
    # none of the start keys the cache-API path keeps.
    keys = {key.decode().split(":", 2)[2] for key in client.scan_iter(f"{prefix}:*")}
    counter = "throttle:signup:ip:198.51.100.30"
    assert keys == {counter, throttling.THROTTLED_KEY + "signup"}
    assert int(client.get(f"{prefix}:1:{counter}")) == 3
    assert 55_000 < client.pttl(f"{prefix}:1:{counter}") <= 60_000
    # Another client has its own window.
    assert throttling.hit("signup", "ip:198.51.100.31") is None
    assert throttling.throttled_counts()["signup"] == 1


@pytest.mark.redis
@pytest.mark.django_db
def test_on_redis_a_window_reopens_when_its_period_is_over(redis_cache, settings):
    _limit(settings, "anon", "2/s")
    api = APIClient()
    codes = [api.get("/api/v1/products/") for _ in range(3)]
    assert [response.status_code for response in codes] == [200, 200, 429]
    assert codes[2]["Retry-After"] == "1"
    time.sleep(1.1)
    assert api.get("/api/v1/products/").status_code == 200


@pytest.mark.redis
@pytest.mark.django_db
def test_on_redis_a_route_counts_its_scope_and_the_clients_in_one_call(redis_cache, settings):
    """A consume counts against the client's scope and the route's: both in one script call,
    each refused at its own limit, the refused request counted in both (as every API
    request is)."""
    client, prefix = redis_cache
    _limit(settings, "user", "4/min")
    _limit(settings, "credits_consume", "2/min")
    customer = funded_user(credits=100)
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=1)
    api = _with_key(customer)
    consumed = [
        api.post("/api/v1/credits/consume/", {"operation": "AI_TEXT_CHAT"}, format="json")
        for _ in range(3)
    ]
    assert [response.status_code for response in consumed] == [201, 201, 429]
    assert 1 <= int(consumed[2]["Retry-After"]) <= 60
    assert CreditTransaction.objects.filter(user=customer).count() == 2 + 1  # the grant
    assert api.get("/api/v1/credits/").status_code == 200  # the client's 4th request
    assert api.get("/api/v1/credits/").status_code == 429  # its 5th
    counters = {
        key.decode().split(":", 2)[2]: int(client.get(key))
        for key in client.scan_iter(f"{prefix}:*:throttle:*")
    }
    key_id = ApiKey.objects.get(user=customer).pk
    assert counters == {
        f"throttle:user:key:{key_id}": 5,
        f"throttle:credits_consume:key:{key_id}": 3,
    }
    assert throttling.throttled_counts()["credits_consume"] == 1
    assert throttling.throttled_counts()["user"] == 1


# --- several web processes, one Redis ------------------------------------------------------


@pytest.mark.redis
def test_limit_holds_across_processes(redis_url, settings):
    """Three Django processes send one client's sign-ups at the same moment; together they
    get exactly the limit through, as one process would (each counting alone would let 3 x 10
    through), and every refusal is counted where /metrics reads it."""
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    processes, per_process, rate = 3, 8, "10/hour"
    start_at = time.time() + 8  # each process sets Django up first, then all start together
    env = {
        **os.environ,
        "THROTTLE_REDIS_URL": redis_url,
        "THROTTLE_KEY_PREFIX": prefix,
        "THROTTLE_RATE": rate,
        "THROTTLE_START_AT": str(start_at),
        "THROTTLE_REQUESTS": str(per_process),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "config.tests.throttle_worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        outputs = [worker.communicate(timeout=120) for worker in workers]
        assert all(worker.returncode == 0 for worker in workers), [o[1][-2000:] for o in outputs]
        answers = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
        codes = [code for process in answers for code in process]
        # "invalid": the limit let the request in and validation refused its body.
        assert codes.count("invalid") == 10
        assert codes.count("throttled") == processes * per_process - 10

        settings.CACHES = {
            "default": {
                "BACKEND": "config.cache.ResilientRedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": prefix,
            }
        }
        assert throttling.throttled_counts()["signup"] == processes * per_process - 10
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
