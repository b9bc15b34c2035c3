"""Signing in through the fake OAuth provider from a browser test.

The provider's sign-in page is another host by design (github.com in real life), so the
browser itself never goes there: every page it loads stays on the server under test. A
provider button's form is posted with the browser's own cookies, the person's consent at
the provider is the fake provider's redirect back (social_signin.tests.fake_provider),
fetched here, and the browser opens the callback on our server."""

from urllib.parse import urlparse

import requests


def through_provider(page, button) -> None:
    """Submit ``button``'s form (a "Continue with GitHub" or "Sign in again with GitHub"
    button) as the browser would, consent at the fake provider, and open the callback."""
    form = button.locator("xpath=ancestor::form")
    started = page.request.post(
        form.get_attribute("action"),
        max_redirects=0,
        form={"csrfmiddlewaretoken": form.locator("[name=csrfmiddlewaretoken]").input_value()},
        headers={"Referer": page.url},
    )
    assert started.status == 302
    consent = requests.get(started.headers["location"], allow_redirects=False, timeout=5)
    callback = urlparse(consent.headers["Location"])
    page.goto(f"{callback.path}?{callback.query}")
