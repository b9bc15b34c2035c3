"""Sign in with GitHub in a real browser: the login page's button, the (fake) provider on
127.0.0.1, back to the product signed in; the linked account on the profile page."""

import os

import pytest
from playwright.sync_api import expect

from accounts.models import User
from e2e.social import through_provider
from social_signin.tests.fake_provider import FakeProvider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider():
    running = FakeProvider(int(os.environ["FAKE_OAUTH_PORT"])).start()
    yield running
    running.stop()


def test_sign_up_with_github_then_see_and_remove_nothing_without_a_password(page, provider):
    shots = page.shots
    provider.github_user(uid=9001, login="mona", name="Mona Lisa", email="mona@example.com")
    # The provider's sign-in page is another host by design (github.com in real life).
    page.checks.allow_host(f"127.0.0.1:{os.environ['FAKE_OAUTH_PORT']}")
    page.goto("/accounts/login/")
    shots("login-with-buttons")
    # The button's form, submitted with the browser's own cookies (e2e.social).
    through_provider(page, page.get_by_role("button", name="Continue with GitHub"))
    page.wait_for_url(lambda url: "/accounts/" not in url, timeout=15_000)
    page.goto("/account/")
    expect(page.get_by_text("mona@example.com").first).to_be_visible()
    shots("signed-in")
    user = User.objects.get(email="mona@example.com")
    assert user.email_verified

    page.goto("/account/profile/")
    linked = page.locator("section", has=page.get_by_role("heading", name="Linked accounts"))
    expect(linked).to_contain_text("GitHub: mona@example.com")
    expect(linked.get_by_role("button", name="Link Google")).to_be_visible()
    shots("profile-linked-accounts")
    linked.get_by_role("link", name="Remove…").click()
    page.wait_for_load_state()
    # Their only way in: they must set a password before removing it.
    expect(page.get_by_role("alert")).to_contain_text("password")
    shots("remove-refused")
