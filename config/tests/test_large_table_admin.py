"""Staff lists of large tables read only what a page shows, through indexes: no COUNT over
the table once past the exact-count limit, no ``LIKE '%term%'``, no DISTINCT over the table
(filters, date hierarchy), and the list's own query is an index scan.

The big test commits its rows (a transactional test) so ANALYZE's statistics, which
PostgreSQL keeps outside transactions, are wiped with the tables at its end."""

import re
from datetime import datetime

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from unfold.admin import checkbox as unfold_checkbox
from unfold.templatetags import unfold_list

from accounts.factories import AdminFactory, UserFactory
from analytics.factories import history_inputs
from analytics.seed_history import seed_history
from backoffice.periods import IndexedPeriodsMixin, with_indexed_periods
from backoffice.tables import EstimatedCountPaginator
from billing.factories import OrderFactory
from core.dbroles import as_owner
from core.models import AuditLog

LEADING_WILDCARD = re.compile(r"LIKE\s+(UPPER\()?'%", re.IGNORECASE)
ROWS = 12_000  # per table: enough that PostgreSQL prefers its indexes to a scan

# Each large table's changelist, with the searches staff type there ({email}, {user_id} and
# {year} are filled in).
CHANGELISTS = {
    "credits_credittransaction": ("credits/credittransaction", ["{email}", "{email_start}", "17"]),
    "credits_creditgrant": ("credits/creditgrant", ["{email}", "3"]),
    "accounts_auditlog": ("core/auditlog", ["{email}", "accounts.User:{user_id}", "{user_id}"]),
    "billing_order": (
        "billing/order",
        ["ORD-2020-0000042", "ord-2020-00001", "{email}", "cs_nothing", "pi_nothing", "42"],
    ),
    "billing_invoice": (
        "billing/invoice",
        ["INV-2020-0000042", "ORD-2020-0000042", "{email}", "in_nothing"],
    ),
    "billing_payment": (
        "billing/payment",
        ["ORD-2020-0000042", "INV-2020-00000", "REF-42", "{email}"],
    ),
    "billing_webhookevent": ("billing/webhookevent", ["evt_fill_42", "invoice.", "in_fill_42"]),
    "outbox_outboxmessage": ("outbox/outboxmessage", ["42"]),
    "support_conversation": ("support/conversation", ["{email}", "q42"]),
    "support_chatmessage": ("support/chatmessage", ["q42", "{email}"]),
}

FILL = {
    "billing_order": """
        INSERT INTO billing_order (created_at, updated_at, number, user_id, status,
            payment_status, billing_source, currency, subtotal, discount_amount, tax, total,
            refunded_amount, shipping_address, notes, internal_notes, metadata, checkout_url)
        SELECT now() - g * interval '1 hour', now(), 'ORD-2020-' || lpad(g::text, 7, '0'),
               %(user)s, 'COMPLETED', 'SUCCEEDED', 'manual', 'usd', 1000, 0, 0, 1000, 0,
               '{}', '', '', '{}', ''
          FROM generate_series(1, %(rows)s) g""",
    "billing_invoice": """
        INSERT INTO billing_invoice (created_at, updated_at, number, user_id, status,
            billing_source, currency, lines, subtotal, discount_amount, tax, total,
            amount_paid, amount_due, payment_reference, stripe_number, hosted_invoice_url,
            billing_reason, refunded_amount)
        SELECT now() - g * interval '1 hour', now(), 'INV-2020-' || lpad(g::text, 7, '0'),
               %(user)s, 'PAID', 'manual', 'usd', '[]', 1000, 0, 0, 1000, 1000, 0, '', '', '',
               'manual', 0
          FROM generate_series(1, %(rows)s) g""",
    "billing_payment": """
        INSERT INTO billing_payment (created_at, updated_at, user_id, provider, provider_id,
            amount, currency, status, method_type, method_brand, method_last4, metadata,
            stripe_payment_intent_id, stripe_charge_id)
        SELECT now() - g * interval '1 hour', now(), %(user)s, 'manual', 'REF-' || g, 1000,
               'usd', 'SUCCEEDED', 'bank_transfer', '', '', '{}', '', ''
          FROM generate_series(1, %(rows)s) g""",
    "billing_webhookevent": """
        INSERT INTO billing_webhookevent (created_at, updated_at, stripe_event_id, type,
            livemode, api_version, object_id, payload, status, attempts, last_error,
            received_at)
        SELECT now() - g * interval '1 hour', now(), 'evt_fill_' || g,
               (ARRAY['invoice.paid', 'customer.updated', 'charge.refunded'])[g %% 3 + 1],
               false, '', 'in_fill_' || g, '{}', 'processed', 1, '',
               now() - g * interval '1 hour'
          FROM generate_series(1, %(rows)s) g""",
    "accounts_auditlog": """
        INSERT INTO accounts_auditlog (actor_id, actor_email, action, resource_type,
            resource_id, old_values, new_values, context, user_agent, created_at)
        SELECT %(user)s, '', 'LOGIN', 'accounts.User', %(user)s::text, '{}', '{}', '{}', '',
               now() - g * interval '1 hour'
          FROM generate_series(1, %(rows)s) g""",
    "outbox_outboxmessage": """
        INSERT INTO outbox_outboxmessage (task, args, kwargs, created_at, published_at,
            attempts, last_error)
        SELECT 'billing.tasks.process_webhook_event', '[]', '{}', now() - g * interval '1 hour',
               now() - g * interval '1 hour', 1, ''
          FROM generate_series(1, %(rows)s) g""",
    "support_conversation": """
        INSERT INTO support_conversation (created_at, updated_at, customer_id, resolved)
        SELECT now() - g * interval '1 hour', now(), %(user)s, true
          FROM generate_series(1, %(rows)s) g""",
    "support_chatmessage": """
        INSERT INTO support_chatmessage (created_at, updated_at, conversation_id, role, body)
        SELECT c.created_at, c.created_at, c.id, 'customer',
               'How do I change my plan? Question q' || row_number() OVER (ORDER BY c.id)
          FROM support_conversation c""",
    # Spent lots (nothing left, so the ledger's books are not touched).
    "credits_creditgrant": """
        INSERT INTO credits_creditgrant (created_at, updated_at, user_id, source, amount,
            remaining, expired_at, source_ref, idempotency_key)
        SELECT now() - g * interval '1 hour', now(), %(user)s, 'PROMO', 10, 0, now(), '', ''
          FROM generate_series(1, %(rows)s) g""",
}


def _fill(user):
    with connection.cursor() as cursor:
        for sql in FILL.values():
            cursor.execute(sql, {"user": user.pk, "rows": ROWS})
    # ANALYZE needs the tables' owner (the tests act as the application's role).
    with as_owner(), connection.cursor() as cursor:
        for table in CHANGELISTS:
            cursor.execute(f"ANALYZE {table}")


def _about(table: str, sql: str) -> bool:
    return f'"{table}"' in sql or f" {table} " in sql


@pytest.mark.django_db(transaction=True)
def test_large_table_changelists_neither_count_nor_scan(client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 100)
    customer = history_inputs(customers=2)[0]
    seed_history(rows=ROWS, customers=2, days=500)
    _fill(customer)
    staff = AdminFactory()
    client.force_login(staff)
    terms = {"email": customer.email, "email_start": customer.email[:5], "user_id": customer.pk}
    year = timezone.localdate().year

    for table, (path, searches) in CHANGELISTS.items():
        url = f"/admin/{path}/"
        pages = [url, *(f"{url}?q={term.format(**terms)}" for term in searches)]
        if _model_admin(path).date_hierarchy:
            pages.append(f"{url}?created_at__year={year}")
        for page in pages:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(page)
            assert response.status_code == 200, page
            queries = [q["sql"] for q in captured.captured_queries if _about(table, q["sql"])]
            assert queries, page
            for sql in queries:
                assert not LEADING_WILDCARD.search(sql), (page, sql)
                assert "SELECT DISTINCT" not in sql.upper(), (page, sql)
                assert "DATE_TRUNC" not in sql.upper(), (page, sql)
                # Counted only when the estimate is small, and then at most limit + 1 rows.
                if "COUNT(" in sql.upper():
                    assert "LIMIT 101" in sql and page != url, (page, sql)
        assert "about " in client.get(url).content.decode(), f"{url}: total not estimated"

    for table, (path, searches) in CHANGELISTS.items():
        for term in [None, *searches]:
            plan = _list_plan(path, staff, term and term.format(**terms))
            assert f"Seq Scan on {table}" not in plan, (path, term, plan)
            assert "Index" in plan, (path, term, plan)


def _model_admin(path: str):
    label = path.replace("/", ".")
    return next(
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.label_lower == label
    )


def _list_plan(path: str, user, term: str | None) -> str:
    """EXPLAIN of the query that fetches the changelist's page."""
    model_admin = _model_admin(path)
    request = RequestFactory().get(f"/admin/{path}/", {"q": term} if term else {})
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    return changelist.result_list.explain()


@pytest.mark.django_db
def test_below_the_limit_the_total_is_counted_exactly(admin_client_user):
    user = UserFactory()
    for _ in range(3):
        AuditLog.objects.create(
            actor=user, action="LOGIN", resource_type="accounts.User", resource_id=str(user.pk)
        )

    response = admin_client_user.get(f"/admin/core/auditlog/?q={user.email}")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert not response.context["cl"].paginator.estimated
    assert "about " not in response.content.decode()


@pytest.mark.django_db
def test_date_hierarchy_periods_are_the_ones_django_finds():
    user = UserFactory()
    moments = [
        "2024-12-31T23:30:00+00:00",
        "2025-01-01T00:10:00+00:00",
        "2025-03-15T12:00:00+00:00",
        "2025-03-16T00:00:00+00:00",
        "2026-07-04T08:00:00+00:00",
    ]
    for moment in moments:
        AuditLog.objects.create(
            actor=user, action="LOGIN", resource_type="x", created_at=datetime.fromisoformat(moment)
        )
    rows = AuditLog.objects.filter(actor=user)
    probed = with_indexed_periods(rows)
    assert isinstance(probed, IndexedPeriodsMixin)

    for tz in ("UTC", "America/New_York", "Asia/Tokyo"):
        with timezone.override(tz):
            for kind in ("year", "month", "day"):
                assert probed.datetimes("created_at", kind) == list(
                    rows.datetimes("created_at", kind)
                ), (tz, kind)
            assert probed.datetimes("created_at", "month", order="DESC") == list(
                rows.datetimes("created_at", "month", order="DESC")
            )


@pytest.mark.django_db
def test_a_long_list_builds_its_column_headers_once_and_checkboxes_per_row(admin_client_user):

    orders = [OrderFactory() for _ in range(3)]
    response = admin_client_user.get("/admin/billing/order/")

    assert response.status_code == 200
    changelist = response.context_data["cl"]
    headers = changelist.__dict__["_console_headers"]  # built once, shared by every row
    assert [str(h["text"]).lower() for h in headers][1:3] == ["number", "user"]
    assert list(unfold_list.result_headers(changelist)) == headers
    page = response.content.decode()
    for order in orders:  # the theme's own checkbox markup, rendered once and reused
        assert str(unfold_checkbox.render("_selected_action", str(order.pk))) in page
