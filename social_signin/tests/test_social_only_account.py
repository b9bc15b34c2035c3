"""A customer who signs in only with Google or GitHub (no password) can still do everything a
customer with a password can on the account pages: delete the account (confirmed by signing
in again with the provider and typing their e-mail address), change their e-mail address,
create API keys, and remove a linked provider as long as another way in remains. Every form
is posted to the action its page renders, after allauth's real OAuth2 flow against the fake
provider."""

import time

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client

from accounts.models import LoginSession, Status, User
from accounts.tests.helpers import link_in_last_mail
from billing.factories import give_api_access
from core.models import AuditAction, AuditLog
from social_signin.tests.test_social_signin import _form_action, _sign_in_with

pytestmark = pytest.mark.django_db


def _github_customer(provider, *, email="solo@example.com", uid=5150) -> tuple[Client, User]:
    provider.github_user(uid=uid, login=f"user{uid}", email=email)
    browser = Client()
    _sign_in_with(browser, "/accounts/login/", "Continue with GitHub")
    user = User.objects.get(email=email)
    assert not user.has_usable_password()
    return browser, user


def _age_provider_sign_in(browser: Client, seconds: int) -> None:
    """As if the provider sign-in recorded in the session happened ``seconds`` ago."""
    session = browser.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] = time.time() - seconds
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def test_just_signed_in_they_delete_by_typing_their_email(provider):
    browser, user = _github_customer(provider)
    page = browser.get("/account/delete/").content.decode()
    assert 'name="password"' not in page
    assert "Type your e-mail address to confirm" in page
    assert "Signing in with GitHub will be unlinked." in page  # as for every deletion
    action = _form_action(page, "Delete my account")

    wrong = browser.post(action, {"email": "someone@example.com", "confirm": "on"})
    assert wrong.status_code == 400
    assert "not your account&#x27;s e-mail address" in wrong.content.decode()
    unticked = browser.post(action, {"email": "SOLO@example.com"})
    assert unticked.status_code == 400
    assert User.objects.filter(pk=user.pk, status=Status.ACTIVE).exists()

    done = browser.post(action, {"email": " Solo@Example.com ", "confirm": "on"})
    assert done.status_code == 302 and done["Location"] == "/"
    gone = User.all_objects.get(pk=user.pk)
    assert gone.status == Status.DELETED and gone.email == f"deleted-{gone.pk}@invalid"
    assert not SocialAccount.objects.filter(user=gone).exists()
    assert not LoginSession.objects.filter(user=gone, revoked_at=None).exists()
    entry = AuditLog.objects.get(resource_id=str(gone.pk), action=AuditAction.DELETE)
    assert entry.context["by_self"] is True
    assert browser.get("/account/").status_code == 302  # signed out


def test_an_old_sign_in_sends_them_to_the_provider_first_and_back(provider):
    browser, user = _github_customer(provider)
    _age_provider_sign_in(browser, 3600)
    page = browser.get("/account/delete/").content.decode()
    assert "First, confirm it is you" in page and 'name="email"' not in page
    assert "Sign in again with GitHub" in page

    # A forged post of the e-mail form is refused: no recent sign-in.
    refused = browser.post("/account/delete/", {"email": user.email, "confirm": "on"})
    assert refused.status_code == 400
    assert "Sign in again with your Google or GitHub account first" in refused.content.decode()
    assert User.objects.filter(pk=user.pk, status=Status.ACTIVE).exists()

    back = _sign_in_with(browser, "/account/delete/", "Sign in again with GitHub")
    assert back.status_code == 302 and back["Location"] == "/account/delete/"
    page = browser.get(back["Location"]).content.decode()
    assert "Type your e-mail address to confirm" in page
    done = browser.post(
        _form_action(page, "Delete my account"), {"email": user.email, "confirm": "on"}
    )
    assert done.status_code == 302
    assert User.all_objects.get(pk=user.pk).status == Status.DELETED


def test_a_sign_in_with_another_persons_provider_account_does_not_count(provider):
    browser, user = _github_customer(provider)
    _age_provider_sign_in(browser, 3600)
    # Someone else's GitHub account in the same browser signs that person in instead.
    provider.github_user(uid=6060, login="other", email="other.person@example.com")
    _sign_in_with(browser, "/account/delete/", "Sign in again with GitHub")
    other = User.objects.get(email="other.person@example.com")
    assert int(browser.session["_auth_user_id"]) == other.pk
    assert User.objects.filter(pk=user.pk, status=Status.ACTIVE).exists()


def test_the_api_says_to_use_the_account_page(provider):
    browser, user = _github_customer(provider)
    response = browser.delete(
        "/api/v1/me/", data={"password": "anything"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "no_password"
    assert User.objects.filter(pk=user.pk, status=Status.ACTIVE).exists()


def test_they_change_their_email_address_without_a_password(provider):
    browser, user = _github_customer(provider)
    mail.outbox.clear()
    page = browser.get("/accounts/email/").content.decode()
    assert 'name="password"' not in page
    added = browser.post("/accounts/email/", {"action_add": "", "email": "solo.new@example.com"})
    assert added.status_code == 302
    assert browser.post(link_in_last_mail(r"/accounts/confirm-email/[^\s]+")).status_code == 302
    made_primary = browser.post(
        "/accounts/email/", {"action_primary": "", "email": "solo.new@example.com"}
    )
    assert made_primary.status_code == 302
    assert User.objects.get(pk=user.pk).email == "solo.new@example.com"
    assert EmailAddress.objects.get(email="solo.new@example.com").primary


def test_they_create_an_api_key_without_a_password(provider):
    browser, user = _github_customer(provider)
    give_api_access(user)  # keys are for plans that include API access
    page = browser.get("/account/api-keys/new/").content.decode()
    assert 'name="password"' not in page
    created = browser.post(_form_action(page, "Create key"), {"name": "CI server"})
    assert created.status_code == 201
    assert user.api_keys.filter(name="CI server", revoked_at=None).exists()


def test_with_two_providers_one_can_go_but_never_the_last(provider):
    browser, user = _github_customer(provider, email="two@example.com")
    provider.google_user(uid="1090", email="two@example.com")
    _sign_in_with(browser, "/account/profile/", "Link Google")
    assert SocialAccount.objects.filter(user=user).count() == 2

    github = SocialAccount.objects.get(user=user, provider="github")
    confirm = browser.get(f"/account/linked/{github.pk}/remove/").content.decode()
    done = browser.post(_form_action(confirm, "Remove GitHub"))
    assert done.status_code == 302
    google = SocialAccount.objects.get(user=user)
    assert google.provider == "google"

    refused = browser.get(f"/account/linked/{google.pk}/remove/").content.decode()
    assert "Set a password" in refused and "Remove Google</button>" not in refused
    assert browser.post(f"/account/linked/{google.pk}/remove/").status_code == 400
    assert SocialAccount.objects.filter(pk=google.pk).exists()
