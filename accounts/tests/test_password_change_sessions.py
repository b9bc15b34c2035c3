"""A password change signs the user out of every other browser, and the records say so."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory

from accounts.factories import LoginSessionFactory
from accounts.login_sessions import end_other_sessions
from accounts.models import LoginSession
from core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-passphrase-42"


def _signed_in(customer, password) -> Client:
    browser = Client()
    response = browser.post("/accounts/login/", {"login": customer.email, "password": password})
    assert response.status_code == 302
    return browser


def test_password_change_ends_other_sessions_and_keeps_this_one_listed(customer, password):
    here, elsewhere = _signed_in(customer, password), _signed_in(customer, password)
    elsewhere_key = elsewhere.cookies["sessionid"].value

    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert elsewhere.get("/account/").status_code == 302
    assert not Session.objects.filter(session_key=elsewhere_key).exists()
    assert LoginSession.objects.get(session_key=elsewhere_key).revoked_at is not None
    here_key = here.cookies["sessionid"].value
    active = LoginSession.objects.filter(user=customer, revoked_at=None)
    assert list(active.values_list("session_key", flat=True)) == [here_key]
    listed = here.get("/api/v1/me/sessions/").json()["results"]
    assert [row["id"] for row in listed] == [active.get().pk]
    assert AuditLog.objects.filter(
        actor=customer, action=AuditAction.LOGOUT, new_values__reason="password changed"
    ).exists()


def test_after_a_reset_from_an_emailed_link_no_session_is_kept(customer):
    store = SessionStore()
    store.create()
    record = LoginSessionFactory(user=customer, session_key=store.session_key)
    request = RequestFactory().post("/accounts/password/reset/key/done/")
    request.user = AnonymousUser()
    request.session = SessionStore()

    assert end_other_sessions(user=customer, request=request) == 1

    record.refresh_from_db()
    assert record.revoked_at is not None
    assert not Session.objects.filter(session_key=store.session_key).exists()
    assert not LoginSession.objects.filter(user=customer, revoked_at=None).exists()
    assert end_other_sessions(user=customer, request=request) == 0  # twice is harmless
