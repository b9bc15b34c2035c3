"""Real parallel transactions on PostgreSQL (READ COMMITTED), one connection per thread."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from credits import invariant, services
from credits.errors import InsufficientCredits
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditGrant, CreditTransaction, GrantSource

COST = 7


def in_thread(fn):
    """Run ``fn`` with its own database connection, closed at the end of the thread's job."""

    def wrapper(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return wrapper


@pytest.fixture
def metered(transactional_db):
    return FeatureCostFactory(operation="AI_IMAGE_GENERATION", cost=COST)


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_consumes_against_10_times_the_cost_succeed_exactly_10_times(metered):
    user = funded_user(credits=10 * COST)

    @in_thread
    def consume(_):
        try:
            services.consume_credits(user=user, operation="AI_IMAGE_GENERATION")
            return "ok"
        except InsufficientCredits:
            return "refused"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(consume, range(100)))

    assert outcomes.count("ok") == 10
    assert outcomes.count("refused") == 90
    assert CreditBalance.objects.get(user=user).balance == 0
    assert CreditTransaction.objects.filter(user=user, kind="CONSUME").count() == 10
    assert CreditGrant.objects.get(user=user).remaining == 0
    assert invariant.check_invariant() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_consumes_by_different_users_do_not_block_each_other_or_mix(metered):
    users = [funded_user(credits=3 * COST) for _ in range(5)]

    @in_thread
    def consume(index):
        try:
            services.consume_credits(user=users[index % 5], operation="AI_IMAGE_GENERATION")
            return True
        except InsufficientCredits:
            return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(consume, range(40)))

    assert sum(outcomes) == 15
    assert set(CreditBalance.objects.filter(user__in=users).values_list("balance", flat=True)) == {
        0
    }
    assert invariant.check_invariant() == []


@pytest.mark.django_db(transaction=True)
def test_20_concurrent_api_requests_with_one_idempotency_key_charge_once(metered):
    user = funded_user(credits=100)
    start = threading.Barrier(20)

    @in_thread
    def post(_):
        client = APIClient()
        client.force_authenticate(user=user)
        start.wait(timeout=10)
        response = client.post(
            "/api/v1/credits/consume/",
            {"operation": "AI_IMAGE_GENERATION", "quantity": 2},
            format="json",
            HTTP_IDEMPOTENCY_KEY="job-42",
        )
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(post, range(20)))

    statuses = {status for status, _ in results}
    bodies = [body for _, body in results]
    assert statuses == {201}
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["credits_charged"] == 2 * COST
    assert bodies[0]["balance"] == 100 - 2 * COST
    assert CreditTransaction.objects.filter(user=user, kind="CONSUME").count() == 1
    assert CreditBalance.objects.get(user=user).balance == 100 - 2 * COST


@pytest.mark.django_db(transaction=True)
def test_expiry_racing_consumption_never_double_counts(metered):
    user = UserFactory()
    soon = timezone.now() + timedelta(hours=1)
    expiring = [
        services.grant_credits(
            user=user, amount=10 * COST, source=GrantSource.PROMO, expires_at=soon
        )
        for _ in range(3)
    ]
    services.grant_credits(user=user, amount=5 * COST, source=GrantSource.PURCHASE)
    granted = 35 * COST
    later = soon + timedelta(hours=1)

    @in_thread
    def work(index):
        if index % 10 == 0:
            return ("expired", services.expire_credits(now=later))
        try:
            services.consume_credits(user=user, operation="AI_IMAGE_GENERATION")
            return ("ok", 1)
        except InsufficientCredits:
            return ("refused", 1)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(work, range(60)))

    consumed = sum(n for kind, n in outcomes if kind == "ok")
    expire_rows = CreditTransaction.objects.filter(user=user, kind="EXPIRE")
    expired = -(expire_rows.aggregate(total=Sum("amount"))["total"] or 0)
    balance = CreditBalance.objects.get(user=user).balance
    assert invariant.check_invariant() == []
    # Every credit is consumed, expired or still there: none counted twice, none lost.
    assert consumed * COST + expired + balance == granted
    assert expire_rows.count() == len({row.details["grant_id"] for row in expire_rows})
    assert sum(n for kind, n in outcomes if kind == "expired") == expire_rows.count()
    for row in expiring:
        grant = CreditGrant.objects.get(pk=row.details["grant_id"])
        assert grant.expired_at is not None and grant.remaining == 0
    assert 0 <= balance <= 5 * COST


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_of_one_consumption_refund_it_once(metered):
    user = funded_user(credits=10 * COST)
    used = services.consume_credits(user=user, operation="AI_IMAGE_GENERATION")
    start = threading.Barrier(10)

    @in_thread
    def refund(_):
        start.wait(timeout=10)
        return services.refund_consumption(transaction=used, reason="failed", actor=None).pk

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(pool.map(refund, range(10)))

    assert len(ids) == 1
    assert CreditTransaction.objects.filter(kind="REFUND").count() == 1
    assert CreditBalance.objects.get(user=user).balance == 10 * COST
