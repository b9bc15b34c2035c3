"""Small helpers shared by the accounts tests (real flows, no mocks of our own code)."""

import re

from django.core import mail
from django.urls import reverse

LOGIN_URL = "/accounts/login/"


def page_login(client, email, password, **extra):
    """Log in through allauth's real login page."""
    return client.post(LOGIN_URL, {"login": email, "password": password}, **extra)


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def link_in_last_mail(pattern: str) -> str:
    body = mail.outbox[-1].body
    match = re.search(r"https?://[^/\s]+(" + pattern + r")", body)
    assert match, body
    return match.group(1)


def api_url(name, **kwargs):
    return reverse(f"api:{name}", kwargs=kwargs)
