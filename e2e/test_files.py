"""A customer uploads files on the Files page until the plan's quota says no, then deletes one
and the next fits. On a phone-sized screen too."""

import pytest
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, UserFactory
from billing.factories import SubscriptionFactory
from catalog.factories import PlanFactory
from files.models import CustomerFile

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 592  # 600 bytes


def _log_in(page, email):
    page.goto("/accounts/login/")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_upload_over_quota_is_refused_next_to_the_field_then_fits_after_a_delete(page):
    shots = page.shots
    customer = UserFactory(email="files@example.com")
    SubscriptionFactory(
        user=customer, status="ACTIVE", plan=PlanFactory(name="Starter", storage_quota_bytes=1000)
    )
    _log_in(page, customer.email)
    # The upload over the quota is refused with 413, on purpose.
    page.checks.expect(r"/files/$", 413)
    page.goto("/files/")
    expect(page.get_by_text("You have no files yet")).to_be_visible()
    shots("files-empty")

    page.set_input_files(
        'input[name="file"]', files=[{"name": "logo.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    expect(page.get_by_text("logo.png was uploaded")).to_be_visible()
    expect(page.locator("#storage-meter")).to_have_attribute("value", "60")
    shots("one-file")

    page.set_input_files(
        'input[name="file"]', files=[{"name": "second.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.checks.expect(r"/files/$", 413)  # the refusal: the page again, with the error
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    error = page.locator("#id_file_error")
    expect(error).to_contain_text("second.png is 600 bytes")
    expect(error).to_contain_text("400 bytes are left")
    shots("over-quota")
    assert CustomerFile.objects.count() == 1

    page.set_viewport_size({"width": 390, "height": 844})
    shots("over-quota-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="Delete…").click()
    page.wait_for_load_state()
    shots("confirm-delete")
    page.get_by_role("button", name="Delete file").click()
    page.wait_for_load_state()
    expect(page.get_by_text("logo.png was deleted")).to_be_visible()

    page.set_input_files(
        'input[name="file"]', files=[{"name": "second.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    expect(page.get_by_text("second.png was uploaded")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "second.png"
    shots("after-delete")
