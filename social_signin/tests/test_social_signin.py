"""Google and GitHub sign-in through allauth's real OAuth2 flow, against a fake provider on
127.0.0.1: the browser's redirects are followed by hand (our pages with Django's client, the
provider's with HTTP), and allauth talks to the provider's token and user-info endpoints over
real HTTP."""

import json
import re
from urllib.parse import urlparse

import environ
import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from accounts.factories import TEST_PASSWORD, UserFactory
from accounts.models import LoginSession, User
from accounts.services import delete_account
from core.models import AuditLog
from credits.selectors import balance_of
from social_signin.settings import provider_settings

pytestmark = pytest.mark.django_db


def _form_action(html: str, text: str) -> str:
    """The action of the form whose button says ``text``."""
    for action, body in re.findall(
        r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S
    ):
        if text in body:
            return action.replace("&amp;", "&")
    raise AssertionError(f"no form with a {text!r} button")


def _sign_in_with(browser: Client, page_url: str, button: str):
    """Click the provider's button on ``page_url`` and follow the OAuth2 dance to the end."""
    page = browser.get(page_url)
    assert page.status_code == 200
    start = browser.post(_form_action(page.content.decode(), button))
    assert start.status_code == 302, start.content[:500]
    authorize = start["Location"]
    assert authorize.startswith("http://127.0.0.1:")  # off to the provider
    back = requests.get(authorize, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    return browser.get(f"{callback.path}?{callback.query}")


def _signed_in_user(browser):
    return (
        browser.get("/api/v1/me/").json() if browser.get("/api/v1/me/").status_code == 200 else None
    )


def test_a_new_customer_signs_up_with_github(provider):
    provider.github_user(email="Octo@Example.com")
    browser = Client()
    done = _sign_in_with(browser, "/accounts/signup/", "Continue with GitHub")
    assert done.status_code == 302 and "/accounts/" not in done["Location"]
    user = User.objects.get(email="octo@example.com")
    assert user.email_verified and not user.has_usable_password()
    assert _signed_in_user(browser)["email"] == "octo@example.com"
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("github", "4242")
    assert balance_of(user=user) > 0  # the signup bonus, as for any new account
    assert AuditLog.objects.filter(
        resource_id=str(user.pk), action="CREATE", context__via="social:github"
    ).exists()
    assert LoginSession.objects.filter(user=user).exists()
    assert ("POST", "/login/oauth/access_token") in provider.requests
    assert ("GET", "/api/v3/user/emails") in provider.requests


def test_a_verified_google_address_signs_in_to_the_existing_account_and_links_it(provider):
    existing = UserFactory(email="gina@example.com", email_verified=True)
    provider.google_user(email="gina@example.com", verified=True)
    browser = Client()
    done = _sign_in_with(browser, "/accounts/login/", "Continue with Google")
    assert done.status_code == 302
    assert _signed_in_user(browser)["id"] == existing.pk
    assert User.objects.filter(email="gina@example.com").count() == 1
    assert SocialAccount.objects.get(provider="google").user_id == existing.pk
    assert AuditLog.objects.filter(
        resource_id=str(existing.pk), context__operation="social_account_linked"
    ).exists()
    existing.refresh_from_db()
    assert existing.has_usable_password()  # a verified address keeps its password


def test_an_unverified_provider_address_never_reaches_an_existing_account(provider):
    existing = UserFactory(email="victim@example.com", email_verified=True)
    provider.github_user(email="victim@example.com", verified=False)
    browser = Client()
    _sign_in_with(browser, "/accounts/login/", "Continue with GitHub")
    me = _signed_in_user(browser)
    assert me is None or me["id"] != existing.pk
    assert not SocialAccount.objects.filter(user=existing).exists()
    existing.refresh_from_db()
    assert existing.has_usable_password()


def test_linked_accounts_are_listed_linked_and_removed_on_the_profile_page(provider):
    customer = UserFactory(email="pat@example.com")
    browser = Client()
    browser.force_login(customer)
    profile = browser.get("/account/profile/").content.decode()
    assert "No Google or GitHub account is linked" in profile

    provider.github_user(uid=777, login="patcodes", email="pat.codes@example.com")
    _sign_in_with(browser, "/account/profile/", "Link GitHub")
    account = SocialAccount.objects.get(user=customer)
    assert account.provider == "github" and account.uid == "777"
    profile = browser.get("/account/profile/").content.decode()
    assert "GitHub: pat.codes@example.com" in profile and "Link GitHub" not in profile

    remove = re.search(r'href="(/account/linked/\d+/remove/)"', profile).group(1)
    confirm = browser.get(remove).content.decode()
    assert "Remove your linked GitHub account?" in confirm
    done = browser.post(_form_action(confirm, "Remove GitHub"))
    assert done.status_code == 302 and done["Location"] == "/account/profile/"
    assert not SocialAccount.objects.filter(user=customer).exists()
    assert AuditLog.objects.filter(
        resource_id=str(customer.pk), context__operation="social_account_unlinked"
    ).exists()


def test_the_only_way_in_cannot_be_removed(provider):
    provider.google_user(email="solo@example.com")
    browser = Client()
    _sign_in_with(browser, "/accounts/login/", "Continue with Google")
    account = SocialAccount.objects.get()
    refused = browser.post(f"/account/linked/{account.pk}/remove/")
    assert refused.status_code == 400
    assert "password" in refused.content.decode().lower()
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_another_customers_linked_account_is_404(provider):
    provider.google_user(email="owner@example.com")
    _sign_in_with(Client(), "/accounts/login/", "Continue with Google")
    account = SocialAccount.objects.get()
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(f"/account/linked/{account.pk}/remove/").status_code == 404
    assert stranger.post(f"/account/linked/{account.pk}/remove/").status_code == 404
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_password_sign_in_still_works_next_to_the_buttons(client):
    UserFactory(email="plain@example.com", email_verified=True)
    page = client.get("/accounts/login/").content.decode()
    assert "Continue with Google" in page and "Continue with GitHub" in page
    done = client.post(
        "/accounts/login/", {"login": "plain@example.com", "password": TEST_PASSWORD}
    )
    assert done.status_code == 302


def test_providers_are_enabled_only_with_a_client_id_and_secret():
    class Env(environ.Env):
        pass

    empty = Env()
    empty.ENVIRON = {}
    assert provider_settings(empty) == {}
    only_github = Env()
    only_github.ENVIRON = {
        "GITHUB_CLIENT_ID": "id",
        "GITHUB_CLIENT_SECRET": "s",
        "GOOGLE_CLIENT_ID": "id-without-secret",
    }
    configured = provider_settings(only_github)
    assert list(configured) == ["github"]
    assert configured["github"]["APPS"] == [{"client_id": "id", "secret": "s"}]


def test_deleting_the_account_removes_its_linked_accounts(provider):
    customer = UserFactory(email="leaving@example.com")
    browser = Client()
    browser.force_login(customer)
    provider.github_user(uid=31337, email="leaving.gh@example.com")
    _sign_in_with(browser, "/account/profile/", "Link GitHub")
    assert SocialAccount.objects.filter(user=customer).exists()
    page = browser.get("/account/delete/").content.decode()
    assert "Signing in with GitHub will be unlinked." in page
    delete_account(user=customer, actor=customer)
    assert not SocialAccount.objects.filter(user=customer).exists()


def test_the_data_export_lists_linked_accounts(provider):
    customer = UserFactory(email="exporter@example.com")
    browser = Client()
    browser.force_login(customer)
    provider.github_user(uid=2024, login="exp", email="exp@example.com")
    _sign_in_with(browser, "/account/profile/", "Link GitHub")
    response = browser.get("/account/export/download/")
    document = json.loads(b"".join(response.streaming_content))
    [linked] = document["linked_accounts"]
    assert (linked["provider"], linked["uid"]) == ("github", "2024")
    assert linked["profile"]["login"] == "exp"
