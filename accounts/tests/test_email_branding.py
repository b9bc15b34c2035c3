"""Every e-mail names the business (the ``business_name`` setting, never the Sites
framework's "example.com") and its links start with ``SITE_URL``."""

import re

import pytest
from django.core import mail

from billing.services.invoices import email_new_invoice_on_commit
from config.tests.page_forms import find_form, submit
from core.system_config import get_config
from support import services
from tests.staff_authority_table import open_invoice

pytestmark = pytest.mark.django_db

SITE = "https://billing.example.test:8443"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def _links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


def test_sign_up_mail_names_the_business_and_links_to_site_url(client):
    page = client.get("/accounts/signup/")
    form = find_form(page, action="/accounts/signup/")
    mail.outbox.clear()
    submit(
        client,
        page,
        form,
        {
            "email": "new.person@example.com",
            "password1": "a-long-and-unusual-passphrase-7",
            "password2": "a-long-and-unusual-passphrase-7",
        },
    )
    sent = mail.outbox[-1]
    business = get_config("business_name")
    assert sent.subject.startswith(f"[{business}] ")
    assert business in sent.body and "example.com" not in sent.body.replace(
        "new.person@example.com", ""
    )
    links = _links(sent.body)
    assert links and all(link.startswith(SITE + "/") for link in links), links
    assert any("/accounts/confirm-email/" in link for link in links)


def test_password_reset_mail_links_to_site_url(client, customer):
    page = client.get("/accounts/password/reset/")
    form = find_form(page, has="email")
    mail.outbox.clear()
    submit(client, page, form, {"email": customer.email})
    sent = mail.outbox[-1]
    assert sent.subject.startswith(f"[{get_config('business_name')}] ")
    links = _links(sent.body)
    assert any("/accounts/password/reset/key/" in link for link in links)
    assert all(link.startswith(SITE + "/") for link in links), links


def test_support_and_billing_mails_name_the_business(
    customer, support_agent, django_capture_on_commit_callbacks
):
    business = get_config("business_name")
    ticket = services.open_ticket(
        customer=customer, subject="Where is my invoice?", description="I cannot find it."
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=ticket, author=support_agent, body="Here it is.")
        email_new_invoice_on_commit(open_invoice(customer, 1200))
    reply, invoice = sorted(mail.outbox, key=lambda sent: sent.subject.startswith("Invoice "))
    assert reply.subject.startswith(f"[{business}] ")
    for sent in (reply, invoice):
        assert f"— {business}" in sent.body
        assert all(link.startswith(SITE + "/") for link in _links(sent.body))
