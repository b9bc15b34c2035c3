"""A customer who signed up with GitHub (no password) deletes their account in a real
browser: the delete page asks for their e-mail address instead of a password, the account is
closed and anonymised, and signing in with GitHub again does not bring it back."""

import os
import time

import pytest
import time_machine
from playwright.sync_api import expect

from accounts.models import Status, User
from e2e.social import through_provider
from social_signin.tests.fake_provider import FakeProvider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider():
    running = FakeProvider(int(os.environ["FAKE_OAUTH_PORT"])).start()
    yield running
    running.stop()


def _continue_with_github(page):
    page.goto("/accounts/login/")
    through_provider(page, page.get_by_role("button", name="Continue with GitHub"))
    page.wait_for_url(lambda url: "/accounts/" not in url, timeout=15_000)


def test_a_github_only_customer_deletes_their_account(page, provider):
    shots = page.shots
    page.checks.allow_host(f"127.0.0.1:{os.environ['FAKE_OAUTH_PORT']}")
    provider.github_user(uid=8128, login="leaver", name="Lee Ver", email="leaver@example.com")
    _continue_with_github(page)
    user = User.objects.get(email="leaver@example.com")
    assert not user.has_usable_password()

    page.goto("/account/delete/")
    expect(page.get_by_text("Signing in with GitHub will be unlinked.")).to_be_visible()
    expect(page.get_by_label("Your current password")).to_have_count(0)
    email = page.get_by_label("Type your e-mail address to confirm")
    shots("delete-page-without-password")
    page.checks.expect(r"/account/delete/$", 400)
    email.fill("not.me@example.com")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("This is not your account's e-mail address.")).to_be_visible()
    shots("wrong-address")
    email.fill("leaver@example.com")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(
        page.get_by_text("Your account was closed and your personal data erased.")
    ).to_be_visible()
    shots("deleted")

    gone = User.all_objects.get(pk=user.pk)
    assert gone.status == Status.DELETED and gone.email == f"deleted-{gone.pk}@invalid"
    page.goto("/account/")
    page.wait_for_url(lambda url: "/accounts/login/" in url)  # signed out

    # The same GitHub account again: a new, empty account, never the deleted one.
    _continue_with_github(page)
    page.goto("/account/")
    expect(page.get_by_text("leaver@example.com").first).to_be_visible()
    again = User.objects.get(email="leaver@example.com")
    assert again.pk != gone.pk
    assert User.all_objects.get(pk=gone.pk).status == Status.DELETED
    shots("new-account-not-the-old-one")


def test_a_github_only_customer_signed_in_too_long_ago_signs_in_again_before_deleting(
    page, provider
):
    """Past the re-authentication window (allauth's 300 s) the delete page asks a customer
    without a password to sign in with GitHub again instead of offering the form; the
    button takes them through GitHub and back to the page, where the form now works."""
    shots = page.shots
    page.checks.allow_host(f"127.0.0.1:{os.environ['FAKE_OAUTH_PORT']}")
    provider.github_user(uid=8129, login="later", name="Lay Ter", email="later@example.com")
    _continue_with_github(page)
    user = User.objects.get(email="later@example.com")

    with time_machine.travel(time.time() + 10 * 60, tick=True):
        page.goto("/account/delete/")
        expect(page.get_by_role("heading", name="First, confirm it is you")).to_be_visible()
        expect(page.get_by_label("Type your e-mail address to confirm")).to_have_count(0)
        again = page.get_by_role("button", name="Sign in again with GitHub")
        expect(again).to_be_visible()
        shots("sign-in-again")

        through_provider(page, again)
        page.wait_for_url(lambda url: url.endswith("/account/delete/"), timeout=15_000)

        email = page.get_by_label("Type your e-mail address to confirm")
        expect(email).to_be_visible()
        shots("back-on-the-delete-page")
        email.fill("later@example.com")
        page.get_by_label("I understand").check()
        page.get_by_role("button", name="Delete my account").click()
        expect(
            page.get_by_text("Your account was closed and your personal data erased.")
        ).to_be_visible()
    assert User.all_objects.get(pk=user.pk).status == Status.DELETED
