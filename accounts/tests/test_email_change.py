"""Changing the sign-in e-mail on allauth's page is verified first and lands in the audit log."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.tests.helpers import link_in_last_mail, page_login
from core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db
NEW_EMAIL = "cara.new@example.com"


def _signed_in(user, password) -> Client:
    browser = Client()
    assert page_login(browser, user.email, password).status_code == 302
    return browser


def test_new_address_becomes_the_login_only_after_verification_and_is_audited(customer, password):
    browser = _signed_in(customer, password)
    mail.outbox.clear()

    added = browser.post("/accounts/email/", {"action_add": "", "email": NEW_EMAIL})
    assert added.status_code == 302
    # Unverified: it cannot be made primary, and the login e-mail is unchanged.
    browser.post("/accounts/email/", {"action_primary": "", "email": NEW_EMAIL})
    assert User.objects.get(pk=customer.pk).email == customer.email
    assert not AuditLog.objects.filter(
        resource_id=str(customer.pk), context__via="email_page"
    ).exists()

    confirm = link_in_last_mail(r"/accounts/confirm-email/[^\s]+")
    assert browser.post(confirm).status_code == 302
    assert EmailAddress.objects.get(email=NEW_EMAIL).verified

    made_primary = browser.post("/accounts/email/", {"action_primary": "", "email": NEW_EMAIL})
    assert made_primary.status_code == 302

    user = User.objects.get(pk=customer.pk)
    assert user.email == NEW_EMAIL and user.email_verified
    entry = AuditLog.objects.get(resource_id=str(customer.pk), context__via="email_page")
    assert entry.action == AuditAction.UPDATE and entry.actor_id == customer.pk
    assert entry.old_values == {"email": customer.email}
    assert entry.new_values == {"email": NEW_EMAIL}
    # The new address signs in.
    assert page_login(Client(), NEW_EMAIL, password).status_code == 302
