"""Orders and downloads: owner only (another customer gets 404), limits and expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import data_export
from billing.factories import OrderFactory, OrderItemFactory
from billing.models import OrderStatus
from billing.services.payments import mark_order_paid


@pytest.fixture
def paid_digital_order(customer, digital_product):
    order = OrderFactory(user=customer, subtotal=1000, internal_notes="staff only secret")
    item = OrderItemFactory(
        order=order, product=digital_product, unit_amount=1000, download_limit=2
    )
    mark_order_paid(
        order_id=order.pk, provider="manual", provider_id="bank", amount=1000, currency="usd"
    )
    order.refresh_from_db()
    item.refresh_from_db()
    return order, item


@pytest.mark.django_db
def test_order_list_shows_only_own_orders(customer_api, customer, other_customer):
    mine = OrderFactory(user=customer)
    OrderFactory(user=other_customer)
    body = customer_api.get("/api/v1/orders/").json()
    assert body["count"] == 1 and body["results"][0]["number"] == mine.number


@pytest.mark.django_db
def test_order_detail_hides_internal_notes(customer_api, paid_digital_order):
    order, item = paid_digital_order
    body = customer_api.get(f"/api/v1/orders/{order.number}/").json()
    assert body["status"] == "COMPLETED" and body["total"] == 1000
    assert "internal_notes" not in body
    assert body["items"][0]["download_url"].endswith(f"/items/{item.pk}/download/")


@pytest.mark.django_db
def test_every_order_endpoint_and_page_is_404_for_another_customer(
    other_customer_api, other_customer, client, paid_digital_order
):
    order, item = paid_digital_order
    client.force_login(other_customer)
    api_urls = [
        f"/api/v1/orders/{order.number}/",
        f"/api/v1/orders/{order.number}/items/{item.pk}/download/",
    ]
    page_urls = [
        f"/orders/{order.number}/",
        f"/orders/{order.number}/invoice/",
        f"/orders/{order.number}/items/{item.pk}/download/",
    ]
    for url in api_urls:
        response = other_customer_api.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] in ("order_not_found", "not_found")
    for url in page_urls:
        assert client.get(url).status_code == 404, url
    assert order.number not in client.get("/orders/").content.decode()
    item.refresh_from_db()
    assert item.download_count == 0


@pytest.mark.django_db
def test_anonymous_cannot_reach_orders(api_client, paid_digital_order):
    order, item = paid_digital_order
    for url in ["/api/v1/orders/", f"/api/v1/orders/{order.number}/", "/api/v1/cart/"]:
        assert api_client.get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_download_limit_is_enforced_with_a_clear_error(customer_api, paid_digital_order):
    order, item = paid_digital_order
    url = f"/api/v1/orders/{order.number}/items/{item.pk}/download/"
    assert customer_api.get(url).status_code == 302
    assert customer_api.get(url).status_code == 302

    refused = customer_api.get(url)

    assert refused.status_code == 403
    assert refused.json()["code"] == "download_limit_reached"
    item.refresh_from_db()
    assert item.download_count == 2


@pytest.mark.django_db
def test_expired_access_is_refused(customer_api, customer_client, paid_digital_order):
    order, item = paid_digital_order
    item.access_expires_at = timezone.now() - timedelta(seconds=1)
    item.save()
    response = customer_api.get(f"/api/v1/orders/{order.number}/items/{item.pk}/download/")
    assert response.status_code == 403 and response.json()["code"] == "download_expired"
    page = customer_client.get(f"/orders/{order.number}/items/{item.pk}/download/")
    assert page.status_code == 403
    assert "Access to this download has expired." in page.content.decode()
    item.refresh_from_db()
    assert item.download_count == 0


@pytest.mark.django_db
def test_item_without_a_file_has_no_download(customer_api, customer, product):
    order = OrderFactory(user=customer, status=OrderStatus.COMPLETED)
    item = OrderItemFactory(order=order, product=product)
    response = customer_api.get(f"/api/v1/orders/{order.number}/items/{item.pk}/download/")
    assert response.status_code == 404 and response.json()["code"] == "download_not_available"


@pytest.mark.django_db
def test_order_pages_for_the_owner(customer_client, paid_digital_order):
    order, item = paid_digital_order
    listing = customer_client.get("/orders/").content.decode()
    assert order.number in listing
    detail = customer_client.get(f"/orders/{order.number}/").content.decode()
    assert f"/orders/{order.number}/items/{item.pk}/download/" in detail
    assert "staff only secret" not in detail
    assert (
        customer_client.get(f"/orders/{order.number}/items/{item.pk}/download/").status_code == 302
    )


@pytest.mark.django_db
def test_empty_order_list_page(customer_client):
    assert "You have no orders yet." in customer_client.get("/orders/").content.decode()


@pytest.mark.django_db
def test_orders_export_section(customer, paid_digital_order):

    section = list(data_export.sections()["orders"](customer))
    assert section[0]["number"] == paid_digital_order[0].number
    assert "internal_notes" not in section[0]
