"""A customer whose plan includes a downloadable product opens its page, sees it is included
in the plan (no need to buy it) and downloads it in a real browser."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from accounts.models import StoredFile
from billing.factories import SubscriptionFactory
from billing.models import IncludedDownload
from catalog.factories import PlanFactory, ProductFactory
from catalog.models import ProductType

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONTENT = b"Field guide: everything a member needs.\n"


def _field_guide():
    path = default_storage.save("catalog-downloads/field-guide.txt", ContentFile(CONTENT))
    stored = StoredFile.objects.create(
        provider=StoredFile.Provider.LOCAL,
        path=path,
        name="field-guide.txt",
        content_type="text/plain",
        size_bytes=len(CONTENT),
    )
    return ProductFactory(
        name="Field Guide",
        slug="field-guide",
        type=ProductType.DIGITAL_DOWNLOAD,
        download_file=stored,
        download_limit=3,
    )


def test_a_subscriber_downloads_a_product_their_plan_includes(role_page, tmp_path):
    product = _field_guide()
    plan = PlanFactory(name="Studio", slug="studio")
    plan.included_downloads.add(product)
    page = role_page("customer")
    subscription = SubscriptionFactory(user=page.user, plan=plan)

    page.goto("/pricing/")
    expect(page.locator(".included-downloads")).to_contain_text("Field Guide")
    page.shots("pricing")

    page.goto("/catalog/field-guide/")
    included = page.locator("[data-included-download]")
    expect(included).to_contain_text("Included in your plan")
    page.shots("product")
    with page.expect_download() as started:
        included.get_by_role("link", name="Download").click()
    download = started.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)

    assert download.suggested_filename == "field-guide.txt"
    assert target.read_bytes() == CONTENT
    counter = IncludedDownload.objects.get(subscription=subscription, product=product)
    assert counter.download_count == 1
