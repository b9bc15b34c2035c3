"""The billing address copied onto an order: address fields only, encrypted at rest.
Through the checkout API, on real PostgreSQL (erasure on deletion: test_account_closure)."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.models import Order
from core.dbroles import as_owner
from core.fields import decrypt
from core.models import AuditLog
from tests.secret_scan import luhn_valid

# Looks like a card number but fails the Luhn check, so the session's secret scan (which
# fails on Luhn-valid numbers anywhere in the database or the logs) has nothing to report.
CARD_LOOKALIKE = "4000 0000 0000 0000"
SENT = {
    "line1": "  1 High Street ",
    "line2": "",
    "city": "London",
    "postal_code": "SW1A 1AA",
    "country": "gb",
    "card": CARD_LOOKALIKE,
    "number": "4000000000000000",
    "cvc": "123",
    "anything": {"nested": "kept nowhere"},
}
KEPT = {"line1": "1 High Street", "city": "London", "postal_code": "SW1A 1AA", "country": "GB"}


def test_the_card_lookalike_is_not_luhn_valid():
    assert not luhn_valid(CARD_LOOKALIKE.replace(" ", ""))
    assert not luhn_valid(SENT["number"])


def _raw_address(order_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT billing_address FROM billing_order WHERE id = %s", [order_id])
        return cursor.fetchone()[0]


def _checkout(api, product, **body):
    api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    return api.post("/api/v1/checkout/", {"payment_method": "manual", **body}, format="json")


@pytest.mark.django_db
def test_checkout_keeps_only_the_address_fields_and_stores_them_encrypted(
    no_stripe, customer_api, product
):
    response = _checkout(customer_api, product, billing_address=SENT)

    assert response.status_code == 201, response.json()
    assert response.json()["order"]["billing_address"] == KEPT
    order = Order.objects.get(number=response.json()["order"]["number"])
    assert order.billing_address == KEPT
    raw = _raw_address(order.pk)
    assert isinstance(raw, str)
    for plain in ("High Street", "London", "SW1A", "4000", "card", "number", "cvc", "nested"):
        assert plain not in raw
    assert json.loads(decrypt(raw)) == KEPT
    # The dropped keys went nowhere else either: not the audit log, not the export.
    audit_rows = json.dumps(list(AuditLog.objects.values("old_values", "new_values", "context")))
    assert "4000" not in audit_rows and "kept nowhere" not in audit_rows
    export = json.loads(b"".join(customer_api.get("/api/v1/me/export/").streaming_content))
    assert [o["billing_address"] for o in export["orders"]] == [KEPT]
    assert customer_api.get(f"/api/v1/orders/{order.number}/").json()["billing_address"] == KEPT


@pytest.mark.django_db
def test_checkout_refuses_an_invalid_address_and_writes_nothing(no_stripe, customer_api, product):
    response = _checkout(
        customer_api,
        product,
        billing_address={"line1": "1 High Street", "country": "Britain", "card": CARD_LOOKALIKE},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "billing_address" in response.json()["fields"]
    assert Order.objects.count() == 0
    assert len(customer_api.get("/api/v1/cart/").json()["items"]) == 1  # the cart is kept


@pytest.mark.django_db
def test_checkout_without_an_address_stores_null(no_stripe, customer_api, product):
    response = _checkout(customer_api, product)

    assert response.status_code == 201, response.json()
    assert response.json()["order"]["billing_address"] is None
    assert _raw_address(Order.objects.get().pk) is None


BEFORE = [("billing", "0005_stripe_customer_mirror")]
AFTER = [("billing", "0006_order_billing_address_encrypted")]


@pytest.fixture
def as_schema_owner(transactional_db):
    """Migrating is the schema owner's work (core.dbroles)."""
    with as_owner():
        yield


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_addresses_and_drops_other_keys(customer, as_schema_owner):
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old_order = executor.loader.project_state(BEFORE).apps.get_model("billing", "Order")
        common = {
            "user_id": customer.pk,
            "billing_source": "manual",
            "currency": "usd",
            "subtotal": 100,
            "total": 100,
        }
        with_address = old_order.objects.create(
            number="ORD-OLD-1",
            **common,
            billing_address={
                "line1": " 2 Old Road",
                "country": "GB",
                "card": CARD_LOOKALIKE,
                "cvc": "123",
            },
        )
        only_junk = old_order.objects.create(
            number="ORD-OLD-2", **common, billing_address={"card": CARD_LOOKALIKE}
        )
        empty = old_order.objects.create(number="ORD-OLD-3", **common, billing_address={})

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        raw = _raw_address(with_address.pk)
        assert "Old Road" not in raw and "4000" not in raw
        assert json.loads(decrypt(raw)) == {"line1": "2 Old Road", "country": "GB"}
        assert _raw_address(only_junk.pk) is None and _raw_address(empty.pk) is None
        assert Order.objects.get(pk=with_address.pk).billing_address == {
            "line1": "2 Old Road",
            "country": "GB",
        }

        # And back: the address fields return to a plain jsonb column.
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT billing_address FROM billing_order WHERE id = %s", [with_address.pk]
            )
            assert json.loads(cursor.fetchone()[0]) == {"line1": "2 Old Road", "country": "GB"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
