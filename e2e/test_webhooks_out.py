"""Staff register a webhook endpoint in the console, copy its secret, and send a test event
that a real receiver on 127.0.0.1 gets, signed with that secret."""

import re

import pytest
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, AdminFactory
from webhooks_out import signing
from webhooks_out.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks_out.tests.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def test_staff_registers_an_endpoint_and_it_receives_a_signed_test_event(page, receiver):
    shots = page.shots
    staff = AdminFactory(email="ops@example.com")
    page.goto("/admin/login/")
    page.fill('input[name="username"]', staff.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    page.goto("/admin/webhooks_out/webhookendpoint/add/")
    page.fill('input[name="url"]', receiver.url)
    page.fill('input[name="description"]', "Our CRM")
    # No event chosen: the form says so next to the field and nothing is saved.
    page.locator('input[type="submit"][name="_save"], button[name="_save"]').first.click()
    page.wait_for_load_state()
    expect(page.locator(".errorlist").first).to_contain_text("required")
    shots("endpoint-form-error")
    assert not WebhookEndpoint.objects.exists()

    page.check('input[name="event_types"][value="order.paid"]')
    page.check('input[name="event_types"][value="payment.refunded"]')
    shots("endpoint-form")
    page.locator('input[type="submit"][name="_save"], button[name="_save"]').first.click()
    page.wait_for_load_state()
    message = page.locator(".messagelist").first
    expect(message).to_contain_text("signing secret")
    shots("endpoint-saved-secret-shown-once")
    secret = re.search(r"whsec_[\w-]+", message.inner_text()).group(0)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret and endpoint.event_types == ["order.paid", "payment.refunded"]

    page.goto("/admin/webhooks_out/webhookendpoint/")
    page.check(f'input[name="_selected_action"][value="{endpoint.pk}"]')
    page.select_option('select[name="action"]', "send_test_event")
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()
    expect(page.locator(".messagelist").first).to_contain_text("test event")
    shots("test-event-sent")
    # The secret is not on the endpoint's page any more.
    page.goto(f"/admin/webhooks_out/webhookendpoint/{endpoint.pk}/change/")
    assert secret not in page.content()
    shots("endpoint-page")

    assert len(receiver.received) == 1
    request = receiver.received[0]
    signing.verify(secret, request.body, request.headers[signing.HEADER])
    assert request.headers["Billing-Event-Type"] == "endpoint.test"
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED

    page.goto("/admin/webhooks_out/webhookdelivery/")
    expect(page.locator("#result_list")).to_contain_text("endpoint.test")
    shots("delivery-log")
