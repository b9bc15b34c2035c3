"""consume_credits as one statement: the database function credits_consume_v2 (migration 0008).

The behaviour tests in test_services.py and test_api.py run through it too; these pin what is
particular to the function: its version, what it shares with Python, which rows it locks, and
the same guarantees under processes racing for one user.
"""

import multiprocessing
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.utils import OperationalError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.models import User
from accounts.services import create_api_key, set_config
from billing.factories import give_api_access
from billing.models import PAST_DUE_GRACE, Subscription, SubscriptionStatus
from catalog.factories import PlanFactory
from core.outbox import enqueue
from core.outbox.models import OutboxMessage
from core.system_config import REGISTRY
from credits import invariant, selectors, services
from credits.errors import IdempotencyConflict, InsufficientCredits, UnknownOperation
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditGrant, CreditTransaction, GrantSource
from credits.tasks import send_low_balance_email

SIGNATURE = "credits_consume_v2(bigint,text,integer,text,jsonb,timestamptz)"
COST = 7


def _definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(to_regprocedure(%s))", [SIGNATURE])
        return cursor.fetchone()[0]


# --- the version and what it shares with Python ---------------------------------------------


@pytest.mark.django_db
def test_the_service_calls_the_function_version_the_migrations_installed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [SIGNATURE])
        installed = cursor.fetchone()[0]

    assert installed
    assert services.CONSUME_FUNCTION == "credits_consume_v2"
    assert services.CONSUME_SQL.startswith("SELECT * FROM credits_consume_v2(")
    with connection.cursor() as cursor:  # v1, on the database's clock, is gone
        cursor.execute(
            "SELECT to_regprocedure(%s)", ["credits_consume_v1(bigint,text,integer,text,jsonb)"]
        )
        assert cursor.fetchone()[0] is None


@pytest.mark.django_db
def test_the_function_and_python_agree_on_the_constants_they_share():
    definition = _definition()

    assert f"'{send_low_balance_email.name}'" in definition
    default = REGISTRY["low_balance_threshold"].default
    assert f"COALESCE(v_threshold, {default})" in definition
    assert PAST_DUE_GRACE / timedelta(days=1) == 7
    assert definition.count("interval '7 days'") == 2


# --- the cost: the plan of the current subscription, as billing reads it ---------------------


def _subscription(user, overrides, **fields):
    plan = PlanFactory(feature_cost_overrides=overrides)
    defaults = {
        "status": SubscriptionStatus.ACTIVE,
        "current_period_start": timezone.now(),
        "current_period_end": timezone.now() + timedelta(days=30),
    }
    return Subscription.objects.create(user=user, plan=plan, **{**defaults, **fields})


def _ago(days):
    return timezone.now() - timedelta(days=days)


SUBSCRIPTION_CASES = {
    "none": [],
    "active": [{"status": SubscriptionStatus.ACTIVE}],
    "trialing": [{"status": SubscriptionStatus.TRIALING}],
    "past due within the grace": [
        {"status": SubscriptionStatus.PAST_DUE, "past_due_since": _ago(3)}
    ],
    "past due beyond the grace": [
        {"status": SubscriptionStatus.PAST_DUE, "past_due_since": _ago(8)}
    ],
    "past due, no date, period just ended": [
        {
            "status": SubscriptionStatus.PAST_DUE,
            "past_due_since": None,
            "current_period_end": _ago(3),
        }
    ],
    "past due, no date, period long ended": [
        {
            "status": SubscriptionStatus.PAST_DUE,
            "past_due_since": None,
            "current_period_end": _ago(10),
        }
    ],
    "canceled": [{"status": SubscriptionStatus.CANCELED}],
    "two live, the later started wins": [
        {"status": SubscriptionStatus.ACTIVE, "current_period_start": _ago(10), "cost": 3},
        {"status": SubscriptionStatus.ACTIVE, "current_period_start": _ago(1), "cost": 2},
    ],
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(SUBSCRIPTION_CASES))
def test_the_function_charges_what_the_cost_selector_says(case):
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = funded_user(credits=100)
    for fields in SUBSCRIPTION_CASES[case]:
        fields = dict(fields)
        _subscription(user, {"AI_TEXT_CHAT": fields.pop("cost", 1)}, **fields)

    row = services.consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=2)

    assert row.amount == -2 * selectors.cost_for(user=user, operation="AI_TEXT_CHAT")


@pytest.mark.django_db
@pytest.mark.parametrize("override", [0, -1, "3", 2.5, True, None])
def test_an_override_that_is_not_a_whole_number_of_at_least_1_is_ignored_and_logged(
    override, caplog
):
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = funded_user(credits=100)
    _subscription(user, {"AI_TEXT_CHAT": override})

    row = services.consume_credits(user=user, operation="AI_TEXT_CHAT")

    assert "ignoring cost override 'AI_TEXT_CHAT'" in caplog.text
    assert row.amount == -COST == -selectors.cost_for(user=user, operation="AI_TEXT_CHAT")


# --- refusals keep their codes and messages --------------------------------------------------


@pytest.mark.django_db
def test_unknown_operation_and_insufficient_balance_answer_as_before_through_an_api_key():
    FeatureCostFactory(operation="AI_VIDEO_GENERATION", cost=40)
    user = funded_user(credits=30)
    give_api_access(user)
    _key, raw = create_api_key(user=user, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    unknown = client.post("/api/v1/credits/consume/", {"operation": "NOPE"}, format="json")
    short = client.post(
        "/api/v1/credits/consume/", {"operation": "AI_VIDEO_GENERATION"}, format="json"
    )

    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": "unknown_operation",
        "fields": {},
        "detail": "Unknown or inactive operation 'NOPE'.",
    }
    assert short.status_code == 402
    assert short.json() == {
        "code": "insufficient_credits",
        "fields": {},
        "balance": 30,
        "cost": 40,
        "detail": "This needs 40 credits; the balance is 30.",
    }
    assert CreditBalance.objects.get(user=user).balance == 30
    assert not CreditTransaction.objects.filter(user=user, kind="CONSUME").exists()


@pytest.mark.django_db
def test_a_conflicting_key_names_the_first_request():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = funded_user(credits=100)
    services.consume_credits(
        user=user, operation="AI_TEXT_CHAT", quantity=2, idempotency_key="job-1"
    )

    with pytest.raises(IdempotencyConflict) as excinfo:
        services.consume_credits(user=user, operation="AI_TEXT_CHAT", idempotency_key="job-1")

    assert excinfo.value.extra == {"operation": "AI_TEXT_CHAT", "quantity": 2}
    assert CreditBalance.objects.get(user=user).balance == 100 - 2 * COST


@pytest.mark.django_db
def test_a_refusal_inside_a_transaction_leaves_it_usable():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = funded_user(credits=COST)

    with transaction.atomic():
        services.consume_credits(user=user, operation="AI_TEXT_CHAT")
        with pytest.raises(InsufficientCredits):
            services.consume_credits(user=user, operation="AI_TEXT_CHAT")
        with pytest.raises(UnknownOperation):
            services.consume_credits(user=user, operation="NOPE")
        assert CreditBalance.objects.get(user=user).balance == 0


# --- expiry during consume, and the outbox row -----------------------------------------------


@pytest.mark.django_db
def test_an_overdue_lot_is_expired_by_consume_exactly_as_the_expiry_task_writes_it():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    by_consume, by_task = UserFactory(), UserFactory()
    lots = {}
    for user in (by_consume, by_task):
        row = services.grant_credits(
            user=user,
            amount=20,
            source=GrantSource.TRIAL,
            expires_at=timezone.now() + timedelta(days=1),
        )
        services.grant_credits(user=user, amount=50, source=GrantSource.PURCHASE)
        lots[user.pk] = row.details["grant_id"]
        # A date with microseconds, as real ones have: the EXPIRE row spells it like Python.
        CreditGrant.objects.filter(pk=lots[user.pk]).update(
            expires_at=timezone.now() - timedelta(hours=1, microseconds=123)
        )

    used = services.consume_credits(user=by_consume, operation="AI_TEXT_CHAT")
    services.expire_credits()

    expired = {
        user.pk: CreditTransaction.objects.get(user=user, kind="EXPIRE")
        for user in (by_consume, by_task)
    }
    ours, theirs = expired[by_consume.pk], expired[by_task.pk]
    assert (ours.amount, ours.balance_after) == (theirs.amount, theirs.balance_after) == (-20, 50)
    assert ours.idempotency_key == f"expire:lot:{lots[by_consume.pk]}"
    assert set(ours.details) == set(theirs.details) == {"grant_id", "source", "expires_at"}
    grant = CreditGrant.objects.get(pk=lots[by_consume.pk])
    assert ours.details == {
        "grant_id": grant.pk,
        "source": "TRIAL",
        "expires_at": grant.expires_at.isoformat(),
    }
    assert (grant.remaining, grant.expired_at) == (0, ours.created_at)
    assert ours.pk < used.pk and used.balance_after == 50 - COST
    assert [(m.grant_id, m.amount) for m in ours.lots.all()] == [(grant.pk, -20)]


@pytest.mark.django_db(transaction=True)
def test_crossing_the_threshold_writes_the_outbox_row_enqueue_writes_and_publishes_it():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = funded_user(credits=25)  # threshold 20: one consume crosses it

    services.consume_credits(user=user, operation="AI_TEXT_CHAT")
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # still low: no second row
    reference = enqueue("credits.tasks.send_low_balance_email", user.pk)

    ours = OutboxMessage.objects.exclude(pk=reference.pk).get()
    assert (ours.task, ours.args, ours.kwargs) == (reference.task, reference.args, reference.kwargs)
    assert ours.published_at is not None and ours.completed_at is not None
    assert (ours.attempts, ours.last_error) == (1, "")
    assert CreditBalance.objects.get(user=user).low_balance_notified is True


@pytest.mark.django_db(transaction=True)
def test_a_configured_threshold_is_read_by_the_function():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    set_config(key="low_balance_threshold", value=5, actor=None)
    user = funded_user(credits=3 * COST)

    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 14: not below 5
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 7
    assert not OutboxMessage.objects.exists()
    services.consume_credits(user=user, operation="AI_TEXT_CHAT")  # 0: crossed

    assert OutboxMessage.objects.get().args == [user.pk]


# --- locks and races ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_consume_locks_the_lots_it_draws_from_and_no_other():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    user = UserFactory()
    first = services.grant_credits(
        user=user,
        amount=50,
        source=GrantSource.PROMO,
        expires_at=timezone.now() + timedelta(days=1),
    )
    second = services.grant_credits(user=user, amount=50, source=GrantSource.PURCHASE)
    drawn, untouched = first.details["grant_id"], second.details["grant_id"]
    consumed, release = threading.Event(), threading.Event()

    def consume_and_hold():
        try:
            with transaction.atomic():
                services.consume_credits(user=user, operation="AI_TEXT_CHAT")
                consumed.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=consume_and_hold)
    holder.start()
    try:
        assert consumed.wait(timeout=10)
        with transaction.atomic():
            locked = CreditGrant.objects.select_for_update(nowait=True).filter(pk=untouched)
            assert [lot.pk for lot in locked] == [untouched]
        with pytest.raises(OperationalError), transaction.atomic():
            list(CreditGrant.objects.select_for_update(nowait=True).filter(pk=drawn))
    finally:
        release.set()
        holder.join(timeout=10)
    assert CreditGrant.objects.get(pk=drawn).remaining == 50 - COST


def _race_for_credits(user_id, start, results):
    """A process: consume until refused twice, report (successes, refusals)."""

    done = refused = 0
    try:
        start.wait(timeout=30)
        while refused < 2:
            try:
                services.consume_credits(user=User(pk=user_id), operation="AI_IMAGE_GENERATION")
                done += 1
            except InsufficientCredits:
                refused += 1
    finally:
        connection.close()
        results.put((done, refused))


def _replay_one_key(user_id, start, results):
    """A process: consume once with the shared key, report the row it got."""

    try:
        start.wait(timeout=30)
        row = services.consume_credits(
            user=User(pk=user_id),
            operation="AI_IMAGE_GENERATION",
            quantity=2,
            idempotency_key="job-42",
        )
        results.put((row.pk, row.amount, row.balance_after, row.created_at))
    finally:
        connection.close()


def _in_processes(target, user_id, count=8) -> list:
    """``count`` forked processes running ``target(user_id, start, results)`` at once."""
    connections.close_all()  # each child opens its own connection to the test database
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=target, args=(user_id, start, results)) for _ in range(count)
    ]
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


@pytest.mark.django_db(transaction=True)
def test_8_processes_racing_for_one_hot_user_never_overdraw():
    FeatureCostFactory(operation="AI_IMAGE_GENERATION", cost=COST)
    user = funded_user(credits=25 * COST + COST - 1)

    outcomes = _in_processes(_race_for_credits, user.pk)

    assert sum(done for done, _ in outcomes) == 25
    assert all(refused == 2 for _, refused in outcomes)
    assert CreditBalance.objects.get(user=user).balance == COST - 1
    assert CreditTransaction.objects.filter(user=user, kind="CONSUME").count() == 25
    assert invariant.check_invariant() == []


@pytest.mark.django_db(transaction=True)
def test_8_processes_replaying_one_key_at_once_all_get_the_first_row():
    FeatureCostFactory(operation="AI_IMAGE_GENERATION", cost=COST)
    user = funded_user(credits=100)

    rows = _in_processes(_replay_one_key, user.pk)

    first = CreditTransaction.objects.get(user=user, kind="CONSUME")
    assert set(rows) == {(first.pk, -2 * COST, 100 - 2 * COST, first.created_at)}
    assert CreditBalance.objects.get(user=user).balance == 100 - 2 * COST
