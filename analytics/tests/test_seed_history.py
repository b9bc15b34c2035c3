"""manage.py seed_history: a long history written with COPY that keeps the books."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Min, Sum
from django.utils import timezone

from analytics.factories import history_inputs
from analytics.seed_history import HEAVY_SHARE, SeedError, seed_history
from billing.models import Invoice, Order, OrderItem, Payment, WebhookEvent
from core.models import AuditLog
from credits.factories import funded_user
from credits.invariant import check_invariant
from credits.models import CreditBalance, CreditGrant, CreditTransaction, TransactionLot
from support.models import ChatMessage, Conversation, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

COUNTED = {
    "credits_creditgrant": CreditGrant,
    "credits_credittransaction": CreditTransaction,
    "credits_transactionlot": TransactionLot,
    "billing_order": Order,
    "billing_orderitem": OrderItem,
    "billing_invoice": Invoice,
    "billing_payment": Payment,
    "billing_webhookevent": WebhookEvent,
    "accounts_auditlog": AuditLog,
    "support_ticket": Ticket,
    "support_ticketmessage": TicketMessage,
    "support_conversation": Conversation,
    "support_chatmessage": ChatMessage,
}


def _counts():
    return {table: model._base_manager.count() for table, model in COUNTED.items()}


def test_seed_history_writes_exactly_the_rows_asked_and_the_books_agree():
    customers = history_inputs(customers=3)
    before = _counts()

    stats = seed_history(rows=4000, customers=3, days=200)

    after = _counts()
    assert stats.ledger_rows == 4000
    assert after["credits_credittransaction"] - before["credits_credittransaction"] == 4000
    for table, written in stats.rows.items():
        if table in COUNTED:
            assert after[table] - before[table] == written, table
    assert stats.rows["billing_order"] > 0 and stats.rows["accounts_auditlog"] > 0
    assert check_invariant() == []
    for customer in customers:
        balance = CreditBalance.objects.get(user=customer).balance
        last = CreditTransaction.objects.filter(user=customer).order_by("-id").first()
        assert balance == last.balance_after >= 0
    # The first customer takes about HEAVY_SHARE of the rows.
    heavy = CreditTransaction.objects.filter(user=customers[0]).count() / 4000
    assert HEAVY_SHARE / 2 < heavy < HEAVY_SHARE * 2
    # Every row is dated inside the window.
    dates = CreditTransaction.objects.aggregate(first=Min("created_at"))
    assert dates["first"] >= timezone.now() - timedelta(days=201)


def test_each_ledger_row_has_its_lot_movements_and_every_kind_shows_up():
    history_inputs(customers=2)

    seed_history(rows=3000, customers=2, days=365)

    kinds = dict(CreditTransaction.objects.values_list("kind").annotate(n=Count("id")))
    assert {"GRANT", "CONSUME", "EXPIRE"} <= set(kinds)
    unmatched = CreditTransaction.objects.annotate(moved=Sum("lots__amount")).exclude(
        moved=F("amount")
    )
    assert not unmatched.exists()
    # Plan credits expire at the period end, each expiry keyed like the expiry task's.
    for row in CreditTransaction.objects.filter(kind="EXPIRE")[:20]:
        assert row.idempotency_key == f"expire:lot:{row.details['grant_id']}"


def test_seed_history_continues_from_the_balance_a_customer_already_has():
    [customer] = history_inputs(customers=1)
    funded_user(credits=250, user=customer)

    seed_history(rows=500, customers=1, days=30)

    first_new = CreditTransaction.objects.filter(user=customer).order_by("id")[1]
    assert first_new.balance_after == 250 + first_new.amount
    assert check_invariant() == []


def test_orders_keep_no_plain_address_and_point_at_their_lots():
    history_inputs(customers=2)

    seed_history(rows=3000, customers=2, days=120)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_order WHERE billing_address IS NOT NULL")
        assert cursor.fetchone()[0] == 0
    order = Order.objects.filter(notes="").order_by("id").first()
    item = order.items.get()
    lot = CreditGrant.objects.get(idempotency_key=item.grant_idempotency_key)
    assert lot.source_ref == order.number and lot.amount == item.credits_granted


def test_the_command_reports_what_it_wrote():
    history_inputs(customers=2)
    out = io.StringIO()

    call_command("seed_history", "--rows", "800", "--customers", "2", "--no-progress", stdout=out)

    assert "800 ledger rows for 2 customers" in out.getvalue()
    assert CreditTransaction.objects.count() >= 800


def test_without_customers_or_feature_costs_nothing_is_written():
    with pytest.raises(SeedError):
        seed_history(rows=10, customers=1)
    with pytest.raises(CommandError, match="feature costs|customers"):
        call_command("seed_history", "--rows", "10", "--no-progress")
    assert CreditTransaction.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_lanes_write_their_customers_in_transactions_of_their_own():
    customers = history_inputs(customers=4)

    stats = seed_history(rows=6000, customers=4, days=200, lanes_wanted=2)

    assert stats.ledger_rows == 6000
    assert CreditTransaction.objects.count() == 6000
    assert check_invariant() == []
    per_customer = {
        user.pk: CreditTransaction.objects.filter(user=user).count() for user in customers
    }
    assert all(per_customer.values()) and sum(per_customer.values()) == 6000
