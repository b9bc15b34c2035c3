"""Revenue, customers, credits and support metrics on hand-checked data."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.factories import StaffFactory, UserFactory
from accounts.services import set_config
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from analytics.tests.builders import DAY, at, backdate, order, payment, refund
from billing.models import Payment, Refund
from core.system_config import forget
from credits.factories import FeatureCostFactory, funded_user
from credits.models import GrantSource
from credits.services import consume_credits, grant_credits, refund_consumption
from support.factories import TicketFactory
from support.models import ChatMessage, ChatRole, Conversation

pytestmark = pytest.mark.django_db


def values(metric, day=DAY):
    return {m.dimension: m.value for m in DailyMetric.objects.filter(date=day, metric=metric)}


def test_revenue_counts_succeeded_payments_and_refunds_of_the_day_per_currency():
    buyer = UserFactory()
    paid_order = order(buyer, 2900)
    payment(buyer, 2900, when=at(DAY, 1), order_obj=paid_order)
    payment(buyer, 5000, when=at(DAY, 23, 59))
    payment(buyer, 1000, when=at(DAY, 5), status=Payment.Status.FAILED)
    payment(buyer, 700, when=at(DAY + timedelta(days=1), 0))  # the next day
    payment(buyer, 1200, when=at(DAY, 6), currency="eur")
    refund(paid_order, 500, when=at(DAY, 8))
    refund(paid_order, 300, when=None, status=Refund.Status.PENDING)
    refund(paid_order, 400, when=at(DAY, 9), status=Refund.Status.FAILED)

    rollup_day(DAY, ["revenue"])

    assert values("gross_revenue") == {"usd": 7900, "eur": 1200}
    assert values("refunds") == {"usd": 500, "eur": 0}
    assert values("net_revenue") == {"usd": 7400, "eur": 1200}
    assert DailyMetric.objects.get(date=DAY, metric="gross_revenue", dimension="usd").metadata == {
        "payments": 2
    }


def test_new_customers_counts_customers_who_joined_that_day_only():
    for when in (at(DAY, 0), at(DAY, 23, 59)):
        backdate(UserFactory(), when)
    backdate(StaffFactory(), at(DAY, 10))  # staff are not customers
    backdate(UserFactory(), at(DAY + timedelta(days=1), 0))
    rollup_day(DAY, ["customers"])
    assert values("new_customers") == {"": 2}


def test_credits_granted_consumed_per_operation_refunded():
    chat = FeatureCostFactory(operation="AI_TEXT_CHAT", cost=2)
    image = FeatureCostFactory(operation="AI_IMAGE_GENERATION", cost=10)
    with time_machine.travel(at(DAY, 9), tick=False):
        alice = funded_user(credits=100)
        bob = funded_user(credits=50)
        consume_credits(user=alice, operation=chat.operation, quantity=3)  # 6
        consume_credits(user=bob, operation=chat.operation)  # 2
        used = consume_credits(user=alice, operation=image.operation)  # 10
        refund_consumption(transaction=used, reason="generation failed")  # +10 back
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=False):
        consume_credits(user=alice, operation=chat.operation)  # another day

    rollup_day(DAY, ["credits"])

    assert values("credits_granted") == {"": 150}
    assert values("credits_consumed") == {"": 18, "AI_TEXT_CHAT": 8, "AI_IMAGE_GENERATION": 10}
    assert values("credits_refunded") == {"": 10, "AI_IMAGE_GENERATION": 10}
    assert values("credits_expired") == {"": 0}
    row = DailyMetric.objects.get(date=DAY, metric="credits_consumed", dimension="AI_TEXT_CHAT")
    assert row.metadata == {"transactions": 2}
    total = DailyMetric.objects.get(date=DAY, metric="credits_consumed", dimension="")
    assert total.metadata == {"transactions": 3}  # the kind's total counts every group's rows


@pytest.fixture
def forget_threshold():
    yield
    forget("low_balance_threshold")  # the cache outlives the test's rolled-back row


def test_low_balance_counts_customers_below_the_threshold_at_the_end_of_the_day(forget_threshold):
    set_config(key="low_balance_threshold", value=30, actor=None)
    with time_machine.travel(at(DAY - timedelta(days=2)), tick=False):
        FeatureCostFactory(operation="AI_TEXT_CHAT", cost=25)
        rich = funded_user(credits=100)
        spender = funded_user(credits=40)
        funded_user(credits=10)  # below from the start
        UserFactory()  # no ledger rows: balance 0, below
        StaffFactory()  # staff are not counted
    with time_machine.travel(at(DAY, 15), tick=False):
        consume_credits(user=spender, operation="AI_TEXT_CHAT")  # 40 -> 15: below
    with time_machine.travel(at(DAY + timedelta(days=1), 15), tick=False):
        grant_credits(user=spender, amount=100, source=GrantSource.PROMO)  # after the day
        consume_credits(user=rich, operation="AI_TEXT_CHAT")

    rollup_day(DAY - timedelta(days=1), ["credit_balances"])
    rollup_day(DAY, ["credit_balances"])

    assert values("low_balance_customers", DAY - timedelta(days=1)) == {"": 2}
    row = DailyMetric.objects.get(date=DAY, metric="low_balance_customers")
    assert row.value == 3
    assert row.metadata == {"threshold": 30, "customers": 4}


def _ticket(created, first_response=None, resolved=None):
    ticket = backdate(TicketFactory(), created)
    type(ticket).objects.filter(pk=ticket.pk).update(
        first_response_at=first_response, resolved_at=resolved
    )
    return ticket


def test_tickets_opened_resolved_and_median_first_response():
    _ticket(at(DAY, 8), first_response=at(DAY, 8, 10))  # 600 s
    _ticket(at(DAY, 9), first_response=at(DAY, 9, 20), resolved=at(DAY, 11))  # 1200 s
    _ticket(at(DAY - timedelta(days=1), 23), first_response=at(DAY, 0, 30))  # 5400 s
    _ticket(at(DAY, 10), first_response=at(DAY, 10, 30))  # 1800 s
    _ticket(at(DAY - timedelta(days=3)), resolved=at(DAY, 14))
    _ticket(at(DAY, 15))  # not answered yet
    _ticket(at(DAY + timedelta(days=1), 1), first_response=at(DAY + timedelta(days=1), 2))

    rollup_day(DAY, ["tickets"])

    assert values("tickets_opened") == {"": 4}
    assert values("tickets_resolved") == {"": 2}
    median = DailyMetric.objects.get(date=DAY, metric="median_first_response_seconds")
    assert median.value == Decimal("1500.00")  # between 1200 and 1800 (interpolated)
    assert median.metadata == {"first_responses": 4}


def test_no_median_first_response_on_a_day_without_first_responses():
    _ticket(at(DAY, 15))
    rollup_day(DAY, ["tickets"])
    assert values("tickets_opened") == {"": 1}
    assert values("median_first_response_seconds") == {}


def _conversation(created, *, answered, handed_off=False):
    conversation = backdate(Conversation.objects.create(customer=UserFactory()), created)
    ChatMessage.objects.create(conversation=conversation, role=ChatRole.CUSTOMER, body="Hi")
    ChatMessage.objects.create(
        conversation=conversation, role=ChatRole.BOT, body="Try this", answered=answered
    )
    if handed_off:
        Conversation.objects.filter(pk=conversation.pk).update(
            handed_off_ticket=TicketFactory(), handed_off_at=created
        )
    return conversation


def test_bot_deflection_rate_is_answered_without_hand_off_over_conversations():
    _conversation(at(DAY, 9), answered=True)
    _conversation(at(DAY, 10), answered=True)
    _conversation(at(DAY, 11), answered=True, handed_off=True)
    _conversation(at(DAY, 12), answered=False)
    _conversation(at(DAY + timedelta(days=1), 9), answered=True)

    rollup_day(DAY, ["bot"])

    assert values("bot_conversations") == {"": 4}
    assert values("bot_deflected") == {"": 2}
    rate = DailyMetric.objects.get(date=DAY, metric="bot_deflection_rate")
    assert rate.value == Decimal("0.500000")
    assert rate.metadata == {"deflected": 2, "conversations": 4}
