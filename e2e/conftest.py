"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live_server.

Never `playwright install`: the browser is /usr/bin/chromium (apt package `chromium`;
`make test-e2e` installs it when missing). Screenshots of every page go to
artifacts/e2e/<test>/NN-name.png.
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop on this thread; the ORM calls the tests make
# between browser steps (reading mail.outbox, setting up rows) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "e2e"



@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-e2e` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


class Shots:
    """Numbered screenshots of one test's pages."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, label: str, page=None) -> None:
        self.count += 1
        (page or self.page).screenshot(path=str(self.folder / f"{self.count:02d}-{label}.png"),
                                       full_page=True)


def _new_page(browser, base_url: str, errors: list, who: str = ""):
    """A page in a browser context of its own (its own cookies: one person's browser)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{who}: {exc}" if who else str(exc)))
    return page


@pytest.fixture
def page(browser, live_server, request):
    errors = []
    page = _new_page(browser, live_server.url, errors)
    page.shots = Shots(page, request.node.name)
    yield page
    page.context.close()
    assert errors == [], f"JavaScript errors on the pages: {errors}"


@pytest.fixture
def person_page(browser, live_server, request):
    """For tests where several people act at once: ``person_page("support")`` opens that
    person's own browser context. The test's screenshots are one numbered sequence, each
    named after whose page it shows (``page.shots("ticket")`` -> NN-support-ticket.png)."""
    errors, pages = [], []
    shots = Shots(None, request.node.name)

    def open_page(who: str):
        page = _new_page(browser, live_server.url, errors, who)
        page.shots = lambda label: shots(f"{who}-{label}", page)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()
    assert errors == [], f"JavaScript errors on the pages: {errors}"
