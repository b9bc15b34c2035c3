"""Every list under /api/v1/ costs the same number of queries for 1 row as for 30.

One table, every list endpoint outside the catalog (the catalog's lists have their own test in
catalog/tests/test_api.py): who reads it, how to give that reader one more row, and where the
rows are in the answer. A row whose serializer reaches for a relation per row (N+1) fails here.
"""

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.factories import ApiKeyFactory, LoginSessionFactory
from analytics.models import DailyMetric
from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, Payment
from billing.services import cart as cart_service
from catalog.factories import PlanFactory, PriceFactory, ProductFactory
from credits.factories import FeatureCostFactory
from credits.models import GrantSource
from credits.services import grant_credits
from support.factories import ArticleFactory, TicketFactory, TicketMessageFactory

pytestmark = pytest.mark.django_db

_serial = itertools.count()
DAY = date(2026, 6, 30)


def _session(user):
    LoginSessionFactory(user=user)


def _api_key(user):
    ApiKeyFactory(user=user)


def _cart_line(user):
    product = ProductFactory()
    product.default_price = PriceFactory(product=product, unit_amount=100 + next(_serial))
    product.save(update_fields=["default_price"])
    cart_service.add_item(user=user, product_id=product.pk)


def _order(user):
    order = OrderFactory(user=user)
    OrderItemFactory(order=order, product=ProductFactory())
    OrderItemFactory(order=order, product=ProductFactory())


def _subscription(user):
    SubscriptionFactory(user=user, plan=PlanFactory(entitlements=[f"feature_{next(_serial)}"]))


def _invoice(user):
    Invoice.objects.create(
        number=f"INV-COUNT-{next(_serial)}",
        user=user,
        currency="usd",
        subtotal=1000,
        total=1000,
        amount_due=1000,
        lines=[{"description": "Pro", "amount": 1000}],
    )


def _payment(user):

    n = next(_serial)
    invoice = Invoice.objects.create(
        number=f"INV-PAY-{n}",
        user=user,
        currency="usd",
        subtotal=1000,
        total=1000,
        amount_due=0,
        amount_paid=1000,
        status="PAID",
        lines=[{"description": "Pro", "amount": 1000}],
    )
    Payment.objects.create(
        user=user,
        invoice=invoice,
        provider="manual",
        provider_id=f"count-pay-{n}",
        amount=1000,
        currency="usd",
        paid_at=timezone.now(),
        method_type="bank_transfer",
    )


def _grant(user):
    grant_credits(
        user=user,
        amount=10,
        source=GrantSource.PROMO,
        idempotency_key=f"count-{next(_serial)}",
        expires_at=None if next(_serial) % 2 else timezone.now() + timedelta(days=90),
    )


def _cost(user):
    FeatureCostFactory()


def _ticket(user):
    ticket = TicketFactory(customer=user)
    TicketMessageFactory(ticket=ticket)


def _article(user):
    ArticleFactory()


def _metric(user):
    count = DailyMetric.objects.count()
    DailyMetric.objects.create(
        date=DAY - timedelta(days=count),
        metric="mrr",
        dimension="usd",
        value=Decimal("10.5"),
        definition_version=3,
        metadata={"subscriptions": 1},
    )


@dataclass(frozen=True)
class ListEndpoint:
    url: str
    reader: str  # the client fixture
    add_row: object  # add_row(user): one more row this reader sees
    rows_at: str = "results"  # where the rows are in the answer ("" : the answer itself)


ENDPOINTS = [
    ListEndpoint("/api/v1/me/sessions/?page_size=50", "customer_api", _session),
    ListEndpoint("/api/v1/me/api-keys/?page_size=50", "customer_api", _api_key),
    ListEndpoint("/api/v1/cart/", "customer_api", _cart_line, rows_at="items"),
    ListEndpoint("/api/v1/orders/?page_size=50", "customer_api", _order),
    ListEndpoint("/api/v1/subscriptions/?page_size=50", "customer_api", _subscription),
    ListEndpoint("/api/v1/entitlements/", "customer_api", _subscription, rows_at="entitlements"),
    ListEndpoint("/api/v1/invoices/?page_size=50", "customer_api", _invoice),
    ListEndpoint("/api/v1/payments/?page_size=50", "customer_api", _payment),
    ListEndpoint("/api/v1/credits/", "customer_api", _grant, rows_at="lots"),
    ListEndpoint("/api/v1/credits/transactions/?page_size=50", "customer_api", _grant),
    ListEndpoint("/api/v1/credits/costs/", "customer_api", _cost, rows_at=""),
    ListEndpoint("/api/v1/tickets/?page_size=50", "customer_api", _ticket),
    ListEndpoint("/api/v1/kb/articles/?page_size=50", "api_client", _article),
    ListEndpoint(
        f"/api/v1/analytics/metrics/?metric=mrr&from={DAY - timedelta(days=60)}&to={DAY}",
        "admin_api",
        _metric,
    ),
]


def _read(client, endpoint: ListEndpoint) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(endpoint.url)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body if not endpoint.rows_at else body[endpoint.rows_at]
    return len(captured), len(rows)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.url.split("?")[0] for e in ENDPOINTS])
def test_list_endpoint_queries_do_not_grow_with_its_rows(request, endpoint):
    client = request.getfixturevalue(endpoint.reader)
    user = request.getfixturevalue("admin_user" if endpoint.reader == "admin_api" else "customer")
    endpoint.add_row(user)
    _read(client, endpoint)  # settings read once and cached (get_config) count in neither
    few, shown_few = _read(client, endpoint)
    for _ in range(29):
        endpoint.add_row(user)
    many, shown_many = _read(client, endpoint)

    assert (shown_few, shown_many) == (1, 30)
    assert many == few, f"{endpoint.url}: {few} queries for 1 row, {many} for 30"
