"""A PostgreSQL connection terminated mid-request: the request fails cleanly with a
503, nothing it wrote is kept, and the next request on the same thread works.

Real PostgreSQL, no mocks. A temporary trigger makes the request's transaction wait inside the
server (``pg_sleep``) after it has already written rows; the test finds that backend in
``pg_stat_activity`` and ends it with ``pg_terminate_backend``, as a server restart, a failover
or an operator would. Each request runs in its own thread, so on its own connection, exactly
as under a real server; the follow-up request runs on the same thread to prove the broken
connection was discarded.
"""

import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connection, connections
from django.test import Client
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from billing.models import Cart, CartItem, Invoice, Order, OrderItem
from catalog.factories import PriceFactory, ProductFactory
from core.dbroles import as_owner
from core.models import AuditLog
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditGrant, CreditTransaction, TransactionKind

pytestmark = pytest.mark.django_db(transaction=True)

PAUSE_SECONDS = 30
WAIT_SECONDS = 15


@contextmanager
def pause_inserts_into(table: str):
    """Every INSERT into ``table`` waits in the server until its backend is terminated."""
    function = f"test_pause_insert_{table}"
    # Triggers and functions are the schema owner's (core.dbroles).
    with as_owner(), connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE FUNCTION {function}() RETURNS trigger AS $$
            BEGIN PERFORM pg_sleep({PAUSE_SECONDS}); RETURN NEW; END;
            $$ LANGUAGE plpgsql""")
        cursor.execute(
            f"CREATE TRIGGER {function} BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    try:
        yield
    finally:
        with as_owner(), connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")


def backend_pid() -> int | None:
    """This thread's PostgreSQL backend, or None when it holds no connection."""
    return connection.connection.info.backend_pid if connection.connection else None


def terminate_paused_backend() -> int:
    """Find the one backend sleeping in the trigger, terminate it and return its pid.

    ``backend_xid`` is set only once a transaction has written, so the assertion proves the
    request is cut off after its first writes, not before them. As the owner: the application's
    role sees no other session's wait and may not end it (core.dbroles).
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with as_owner(), connection.cursor() as cursor:
            cursor.execute("""
                SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep'
                  AND pid <> pg_backend_pid()""")
            rows = cursor.fetchall()
        if rows:
            assert len(rows) == 1, rows
            pid, has_written = rows[0]
            assert has_written, "the request should have written rows before pausing"
            with as_owner(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s, %s)", [pid, WAIT_SECONDS * 1000])
                assert cursor.fetchone()[0] is True
            return pid
        time.sleep(0.05)
    pytest.fail(f"no request paused in the database within {WAIT_SECONDS}s")


class RequestThread(threading.Thread):
    """Sends ``first()``, then waits for ``go_on`` and sends ``then()``, on one connection."""

    def __init__(self, first, then):
        super().__init__(daemon=True)
        self.first, self.then = first, then
        self.first_done, self.go_on = threading.Event(), threading.Event()
        self.responses, self.error, self.pid_after_first = [], None, None

    def run(self):
        try:
            self.responses.append(self.first())
            self.pid_after_first = backend_pid()
            self.first_done.set()
            if self.go_on.wait(WAIT_SECONDS):
                self.responses.append(self.then())
        except BaseException as exc:  # reported by finish() in the test's thread
            self.error = exc
        finally:
            self.first_done.set()
            connections.close_all()

    def finish(self):
        self.go_on.set()
        self.join(WAIT_SECONDS)
        assert not self.is_alive(), "the request thread did not finish"
        if self.error is not None:
            raise self.error
        return self.responses


def test_api_consume_cut_off_mid_transaction_is_a_503_and_writes_nothing():
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=5)
    user = funded_user(credits=50)
    client = APIClient()
    client.force_authenticate(user=user)

    def consume():
        return client.post("/api/v1/credits/consume/", {"operation": "AI_TEXT_CHAT"}, format="json")

    # The ledger row's lots are the last insert of a consume: by then the balance row, the
    # lot and the ledger row itself have been written.
    with pause_inserts_into("credits_transactionlot"):
        thread = RequestThread(consume, consume)
        thread.start()
        terminated = terminate_paused_backend()
        assert thread.first_done.wait(WAIT_SECONDS)
    cut_off, retried = thread.finish()

    assert cut_off.status_code == 503
    assert cut_off["Content-Type"] == "application/json"
    assert cut_off["Retry-After"] == "5"
    assert cut_off.json()["code"] == "service_unavailable"
    assert cut_off.json()["detail"]
    # The broken connection is gone: the rollback failed, so Django closed it on the way out
    # of the atomic block (and opened a fresh one to restore autocommit).
    assert thread.pid_after_first != terminated
    # The retry on the same thread works, and only it is in the books.
    assert retried.status_code == 201, retried.content
    assert retried.json()["credits_charged"] == 5
    assert retried.json()["balance"] == 45
    assert CreditBalance.objects.get(user=user).balance == 45
    assert list(
        CreditTransaction.objects.filter(user=user).order_by("id").values_list("kind", "amount")
    ) == [(TransactionKind.GRANT, 50), (TransactionKind.CONSUME, -5)]
    assert CreditGrant.objects.get(user=user).remaining == 45


def test_checkout_page_cut_off_mid_transaction_shows_the_503_page_and_writes_nothing():
    user = UserFactory()
    product = ProductFactory(name="Widget")
    product.default_price = PriceFactory(product=product, unit_amount=1900, currency="usd")
    product.save(update_fields=["default_price"])
    browser = Client()
    browser.force_login(user)
    assert (
        browser.post(
            "/cart/", {"action": "add", "product_id": product.pk, "quantity": 1}
        ).status_code
        == 302
    )
    audit_rows = AuditLog.objects.count()

    def place_order():
        return browser.post("/checkout/", {"payment_method": "manual"})

    # The invoice is written after the order and its lines, before the cart is emptied.
    with pause_inserts_into("billing_invoice"):
        thread = RequestThread(place_order, place_order)
        thread.start()
        terminated = terminate_paused_backend()
        assert thread.first_done.wait(WAIT_SECONDS)
        assert not Order.objects.exists()  # checked while the request thread waits
        assert not OrderItem.objects.exists()
        assert CartItem.objects.filter(cart__user=user).count() == 1
        assert AuditLog.objects.count() == audit_rows
    cut_off, retried = thread.finish()

    assert cut_off.status_code == 503
    assert cut_off["Content-Type"].startswith("text/html")
    page = cut_off.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in page
    assert "this request was not completed" in page
    assert 'href="/checkout/"' not in page  # a POST is not offered as a link to repeat
    assert thread.pid_after_first != terminated
    assert retried.status_code == 302
    order = Order.objects.get()
    assert retried["Location"] == f"/orders/{order.number}/"
    assert order.items.count() == 1
    assert Invoice.objects.filter(order=order).count() == 1
    assert not CartItem.objects.filter(cart__user=user).exists()
    assert Cart.objects.filter(user=user).count() == 1


def _kill_the_idle_connection_between(request):
    """Make ``request`` three times on one thread; between the first and the second, the
    server ends that thread's idle connection. Returns the three responses and the backend
    pid each request left behind (None once the connection was discarded)."""
    pids = []

    def once():
        response = request()
        pids.append(backend_pid())
        return response

    thread = RequestThread(once, lambda: (once(), once()))
    thread.start()
    assert thread.first_done.wait(WAIT_SECONDS)
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, %s)", [pids[0], WAIT_SECONDS * 1000])
    first, (killed, replaced) = thread.finish()
    return (first, killed, replaced), pids


def test_a_connection_killed_between_requests_is_a_503_once_then_replaced():
    """A kept-alive connection that the server ended while idle (CONN_MAX_AGE > 0, a restart):
    the first query fails outside any transaction; the request answers 503 and the next one
    gets a new connection."""
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=5)
    user = funded_user(credits=50)
    client = APIClient()
    client.force_authenticate(user=user)
    (first, killed, replaced), pids = _kill_the_idle_connection_between(
        lambda: client.get("/api/v1/credits/")
    )

    assert first.status_code == 200
    assert killed.status_code == 503
    assert killed.json()["code"] == "service_unavailable"
    assert replaced.status_code == 200
    assert replaced.json()["balance"] == 50
    # Outside a transaction nothing closes the connection but the 503 handler: it is
    # discarded before the failed request ends, and the next request opens a new one.
    assert pids[1] is None
    assert pids[2] not in (None, pids[0])


def test_a_database_lost_before_the_view_runs_is_the_503_page_too():
    """The session is loaded by a middleware, before any view: there the failure reaches
    Django's handler500, which answers the same 503 page and discards the connection."""
    user = funded_user(credits=10)
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    (first, killed, replaced), pids = _kill_the_idle_connection_between(
        lambda: browser.get("/credits/")
    )

    assert first.status_code == 200
    assert killed.status_code == 503
    assert killed["Retry-After"] == "5"
    page = killed.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in page
    assert 'href="/credits/">Try again</a>' in page  # a GET may simply be repeated
    assert pids[1] is None
    assert replaced.status_code == 200
