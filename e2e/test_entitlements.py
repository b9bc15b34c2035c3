"""What a plan does not include, in a real browser as a customer: the API keys page offers an
upgrade instead of keys the API would refuse, and a High-priority ticket without priority
support is refused beside the field with an upgrade prompt; with the plan, both work."""

import re

import pytest
from playwright.sync_api import expect

from billing.factories import give_entitlements
from catalog.factories import PlanFactory
from support.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_api_keys_page_offers_an_upgrade_until_the_plan_includes_api_access(role_page):
    PlanFactory(name="Business", slug="business", entitlements=["api_access"])
    page = role_page("customer")

    page.goto("/account/api-keys/")
    prompt = page.locator('.upgrade-prompt[data-entitlement="api_access"]')
    expect(prompt).to_contain_text("Business")
    expect(page.get_by_role("link", name="Create a key")).to_have_count(0)
    page.shots("api-keys-upgrade")

    give_entitlements(page.user, "api_access")
    page.goto("/account/api-keys/")
    expect(prompt).to_have_count(0)
    page.get_by_role("link", name="Create a key").click()
    page.fill('input[name="name"]', "laptop")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#raw-key")).to_have_value(re.compile(r"^bk_[0-9a-f]{8}_"))
    page.shots("api-key-created")


def test_high_priority_needs_priority_support(role_page):
    PlanFactory(name="Pro", slug="pro", entitlements=["priority_support"])
    page = role_page("customer")

    page.goto("/support/new/")
    expect(page.locator('.upgrade-prompt[data-entitlement="priority_support"]')).to_contain_text(
        "Pro"
    )
    page.fill('input[name="subject"]', "Exports are stuck")
    page.fill('textarea[name="description"]', "Since this morning every export waits.")
    page.select_option('select[name="priority"]', label="High")
    page.get_by_role("button", name="Send ticket").click()
    field = page.locator(".field-invalid")
    expect(field).to_contain_text("Your plan does not include Priority support")
    page.shots("high-priority-refused")
    assert not Ticket.objects.exists()

    give_entitlements(page.user, "priority_support")
    page.select_option('select[name="priority"]', label="High")
    page.get_by_role("button", name="Send ticket").click()
    expect(page.get_by_text(re.compile(r"Ticket T\d+ opened"))).to_be_visible()
    assert Ticket.objects.get(customer=page.user).priority == "HIGH"
