"""A plan can include downloads of products (``Plan.included_downloads``): its subscribers
download them without buying, through the page and the API, with the product's download limit
per subscription, audited; anyone else, and a subscriber whose plan ended, is refused with 403
``entitlement_required`` naming the plans that include it."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from accounts import data_export
from accounts.models import StoredFile
from accounts.services import create_api_key
from billing.factories import SubscriptionFactory
from billing.models import IncludedDownload, SubscriptionStatus
from catalog.factories import PlanFactory, ProductFactory
from catalog.models import ProductType
from core.models import AuditLog

pytestmark = pytest.mark.django_db

CONTENT = b"The handbook, chapter one.\n"


@pytest.fixture
def handbook(db):
    path = default_storage.save("catalog-downloads/handbook.txt", ContentFile(CONTENT))
    stored = StoredFile.objects.create(
        provider=StoredFile.Provider.LOCAL,
        path=path,
        name="handbook.txt",
        content_type="text/plain",
        size_bytes=len(CONTENT),
    )
    return ProductFactory(
        name="Handbook",
        slug="handbook",
        type=ProductType.DIGITAL_DOWNLOAD,
        download_file=stored,
        download_limit=2,
    )


@pytest.fixture
def studio(handbook):
    plan = PlanFactory(name="Studio", slug="studio", entitlements=[])
    plan.included_downloads.add(handbook)
    return plan


@pytest.fixture
def subscription(customer, studio):
    return SubscriptionFactory(user=customer, plan=studio)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_subscriber_downloads_from_the_page_and_the_api_counted_and_audited(
    customer, customer_client, customer_api, handbook, subscription
):
    page = customer_client.get(f"/billing/downloads/{handbook.pk}/")
    assert page.status_code == 200 and _body(page) == CONTENT
    assert "attachment" in page["Content-Disposition"]

    api = customer_api.get(f"/api/v1/downloads/{handbook.pk}/")
    assert api.status_code == 200 and _body(api) == CONTENT

    counter = IncludedDownload.objects.get(subscription=subscription, product=handbook)
    assert (counter.download_count, counter.download_limit) == (2, 2)
    rows = AuditLog.objects.filter(resource_type="catalog.Product", resource_id=str(handbook.pk))
    assert rows.count() == 2
    assert rows.first().context["subscription"] == subscription.pk
    # The product's limit holds per subscription, as it does per purchase.
    refused = customer_api.get(f"/api/v1/downloads/{handbook.pk}/")
    assert refused.status_code == 403 and refused.json()["code"] == "download_limit_reached"


def test_a_customer_without_the_plan_is_refused_naming_it(
    other_customer, other_customer_api, client, handbook, studio
):
    refused = other_customer_api.get(f"/api/v1/downloads/{handbook.pk}/")
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "entitlement_required" and body["plans"] == ["studio"]
    assert "Studio" in body["detail"]

    client.force_login(other_customer)
    page = client.get(f"/billing/downloads/{handbook.pk}/")
    assert page.status_code == 403
    assert b"Studio" in page.content and b"entitlement_required" in page.content
    assert not IncludedDownload.objects.exists()


@pytest.mark.parametrize("ending", ["canceled", "past_due_beyond_grace"])
def test_access_ends_with_the_plan(customer, customer_api, handbook, subscription, ending):
    assert customer_api.get(f"/api/v1/downloads/{handbook.pk}/").status_code == 200
    if ending == "canceled":
        subscription.status = SubscriptionStatus.CANCELED
        subscription.ended_at = timezone.now()
    else:
        subscription.status = SubscriptionStatus.PAST_DUE
        subscription.past_due_since = timezone.now() - timedelta(days=60)
    subscription.save()

    refused = customer_api.get(f"/api/v1/downloads/{handbook.pk}/")
    assert refused.status_code == 403 and refused.json()["code"] == "entitlement_required"


def test_an_api_key_sees_the_plan_end_on_the_next_request(customer, handbook, subscription):
    subscription.plan.entitlements = ["api_access"]
    subscription.plan.save()
    _key, raw = create_api_key(user=customer)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()
    assert client.get(f"/api/v1/downloads/{handbook.pk}/", **headers).status_code == 200

    subscription.status = SubscriptionStatus.CANCELED
    subscription.save()
    response = client.get(f"/api/v1/downloads/{handbook.pk}/", **headers)
    assert response.status_code == 403  # no api_access and no download any more


def test_unknown_and_fileless_products(customer_api, customer, studio):
    assert customer_api.get("/api/v1/downloads/999999/").json()["code"] == "product_not_found"
    fileless = ProductFactory(type=ProductType.DIGITAL_DOWNLOAD)
    studio.included_downloads.add(fileless)
    SubscriptionFactory(user=customer, plan=studio)
    response = customer_api.get(f"/api/v1/downloads/{fileless.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "download_not_available"


def test_the_product_page_says_included_in_your_plan(
    customer_client, client, other_customer, handbook, subscription
):
    mine = customer_client.get("/catalog/handbook/").content.decode()
    assert "Included in your plan" in mine and f"/billing/downloads/{handbook.pk}/" in mine

    client.force_login(other_customer)
    theirs = client.get("/catalog/handbook/").content.decode()
    assert "Included in your plan" not in theirs
    assert "Also included with Studio" in theirs


def test_the_pricing_page_and_the_plans_api_list_included_downloads(client, api_client, studio):
    PlanFactory(name="Plain", slug="plain")
    page = client.get("/pricing/").content.decode()
    assert "Includes downloads of" in page and "/catalog/handbook/" in page

    plans = {p["slug"]: p for p in api_client.get("/api/v1/plans/").json()}
    assert plans["studio"]["included_downloads"] == ["handbook"]
    assert plans["plain"]["included_downloads"] == []


def test_a_key_sees_a_product_added_to_or_removed_from_the_plan_at_once(customer, handbook):
    plan = PlanFactory(name="Team", slug="team", entitlements=["api_access"])
    SubscriptionFactory(user=customer, plan=plan)
    _key, raw = create_api_key(user=customer)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/downloads/{handbook.pk}/"
    assert client.get(url).json()["code"] == "entitlement_required"  # the entry is cached

    plan.included_downloads.add(handbook)
    assert client.get(url).status_code == 200

    handbook.including_plans.remove(plan)
    assert client.get(url).status_code == 403


def test_the_customers_data_export_lists_the_downloads_their_plan_included(
    customer, customer_api, handbook, studio, subscription
):
    assert customer_api.get(f"/api/v1/downloads/{handbook.pk}/").status_code == 200
    # Another subscriber's downloads stay out of this customer's file.
    other = SubscriptionFactory(plan=studio)
    IncludedDownload.objects.create(
        subscription=other, user=other.user, product=handbook, download_count=2, download_limit=2
    )
    [row] = data_export.sections()["subscriptions"](customer)
    [download] = row["included_downloads"]
    assert download["product"] == "handbook"
    assert (download["download_count"], download["download_limit"]) == (1, 2)
    assert download["first_downloaded_at"] is not None
