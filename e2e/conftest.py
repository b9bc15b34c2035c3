"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live_server.

Never `playwright install`: the browser is /usr/bin/chromium (apt package `chromium`;
`make test-e2e` installs it when missing). Screenshots of every page go to
artifacts/e2e/<test>/NN-name.png.

Every page a test opens is watched, and the test fails naming the page's URL when one of
them shows:
- a JavaScript error or a console error (a CSP refusal is one);
- a failed request: a response of 400 or more, or a load that failed (refused, blocked,
  aborted), unless the test said it expects it (``page.checks.expect(...)``);
- a request to another host than the server under test;
- horizontal overflow: the document wider than the window (checked when each page has
  loaded and again at every screenshot and at the end of the test).

Fixtures: ``page`` (one person's browser at 1280 px), ``mobile_page`` (390 px wide, touch),
``person_page(who)`` (several people at once, each in a browser context of their own) and
``logged_in(page, user)`` which signs a user in without the login form: a server-side session
is made once per user and its cookie reused by every page of that person (the login form
itself is tested by the tests that exist for it).
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import sync_playwright

from accounts import factories

# Playwright's sync API keeps an asyncio loop on this thread; the ORM calls the tests make
# between browser steps (reading mail.outbox, setting up rows) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "e2e"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}

# Runs in every page: once it has loaded (and after each later resize), a document wider
# than its window is reported on the console, where the page's watcher reads it.
_OVERFLOW_PROBE = """
(() => {
  const probe = () => {
    const root = document.documentElement;
    if (root && root.scrollWidth > root.clientWidth + 1) {
      console.warn(`__overflow__ ${root.scrollWidth} > ${root.clientWidth}`);
    }
  };
  window.addEventListener("load", () => setTimeout(probe, 0));
})();
"""
_OVERFLOW_NOW = """() => {
  const root = document.documentElement;
  return root ? [root.scrollWidth, root.clientWidth] : [0, 0];
}"""


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-e2e` (installs Debian's chromium)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def _where(exc) -> str:
    """Where a JavaScript error was thrown (the first frame of its stack), if known."""
    frames = [
        line.strip()
        for line in (getattr(exc, "stack", "") or "").splitlines()
        if line.strip().startswith("at ")
    ]
    return f" ({frames[0]})" if frames else ""


class PageChecks:
    """What went wrong on one person's pages, each line naming the page's URL."""

    def __init__(self, base_url: str, who: str = ""):
        self.host = urlsplit(base_url).netloc
        self.hosts = {self.host}
        self.who = who
        self.problems: list[str] = []
        self._expected: list[tuple[re.Pattern, int | None]] = []

    def expect(self, url_pattern: str, status: int | None = None) -> None:
        """A failure the test means to cause (a form refused with 400, a 404 page): requests
        whose URL matches ``url_pattern`` (a regular expression) and, if given, answer
        ``status`` are not counted, nor the console's line about them."""
        self._expected.append((re.compile(url_pattern), status))

    def allow_host(self, netloc: str) -> None:
        """Another host the test stands up on purpose (a fake OAuth provider on 127.0.0.1,
        as a real one would be github.com): requests there are not counted."""
        self.hosts.add(netloc)

    def _is_expected(self, url: str, status: int | None) -> bool:
        return any(
            pattern.search(url) and (want is None or want == status)
            for pattern, want in self._expected
        )

    def add(self, url: str, what: str) -> None:
        prefix = f"{self.who}: " if self.who else ""
        problem = f"{prefix}{url}: {what}"
        if problem not in self.problems:  # a page found too wide at load and at a screenshot
            self.problems.append(problem)

    def watch(self, page) -> None:
        page.on(
            "pageerror", lambda exc: self.add(page.url, f"JavaScript error: {exc}{_where(exc)}")
        )
        page.on("console", lambda msg: self._console(page, msg))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)
        page.on("request", self._request)

    def _console(self, page, msg) -> None:
        text = msg.text
        if text.startswith("__overflow__"):
            self.add(
                page.url,
                f"wider than the window ({text.removeprefix('__overflow__ ')} "
                "px): horizontal scroll",
            )
        elif msg.type == "error":
            location = (msg.location or {}).get("url", "") or page.url
            # The browser's own line about a response already judged (expected or counted).
            if text.startswith("Failed to load resource: the server responded with a status"):
                return
            self.add(location, f"console error: {text}")

    def _response(self, response) -> None:
        if response.status >= 400 and not self._is_expected(response.url, response.status):
            self.add(response.url, f"answered {response.status} ({response.request.resource_type})")

    def _request_failed(self, request) -> None:
        failure = request.failure or ""
        # "Aborted" is the browser cancelling a load itself: a navigation that became a file
        # download, or a fetch still running when the person moved on to another page.
        if "ERR_ABORTED" in failure:
            return
        if not self._is_expected(request.url, None):
            self.add(request.url, f"failed to load ({request.resource_type}): {failure}")

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc not in self.hosts:
            self.add(request.url, "request to another host")

    def overflow_now(self, page) -> None:
        if page.is_closed() or not page.url.startswith("http"):
            return
        try:
            scroll, client = page.evaluate(_OVERFLOW_NOW)
        except Exception:  # the page is navigating: its load probe covers it
            return
        if scroll > client + 1:
            self.add(page.url, f"wider than the window ({scroll} > {client} px): horizontal scroll")


class Shots:
    """Numbered screenshots of one test's pages (each also checked for overflow)."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, label: str, page=None, *, full_page: bool = True) -> None:
        """``full_page=False`` for a very long page (a reference of every API operation):
        the window only."""
        page = page or self.page
        self.count += 1
        page.checks.overflow_now(page)
        page.screenshot(
            path=str(self.folder / f"{self.count:02d}-{label}.png"), full_page=full_page
        )


def _new_page(
    browser, base_url: str, who: str = "", *, viewport=None, mobile=False, storage_state=None
):
    """A page in a browser context of its own (its own cookies: one person's browser)."""
    options = {"base_url": base_url, "viewport": viewport or DESKTOP}
    if mobile:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    if storage_state:
        options["storage_state"] = storage_state
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    context.add_init_script(_OVERFLOW_PROBE)
    page = context.new_page()
    page.checks = PageChecks(base_url, who)
    page.checks.watch(page)
    return page


def _finish(pages) -> None:
    problems = []
    for page in pages:
        page.checks.overflow_now(page)
        problems += page.checks.problems
        page.context.close()
    assert not problems, "Problems on the pages:\n" + "\n".join(problems)


@pytest.fixture
def page(browser, live_server, request):
    page = _new_page(browser, live_server.url)
    page.shots = Shots(page, request.node.name)
    yield page
    _finish([page])


@pytest.fixture
def mobile_page(browser, live_server, request):
    """A phone: 390 px wide, touch, a high-density screen."""
    page = _new_page(browser, live_server.url, viewport=MOBILE, mobile=True)
    page.shots = Shots(page, request.node.name)
    yield page
    _finish([page])


@pytest.fixture
def person_page(browser, live_server, request):
    """For tests where several people act at once: ``person_page("support")`` opens that
    person's own browser context. The test's screenshots are one numbered sequence, each
    named after whose page it shows (``page.shots("ticket")`` -> NN-support-ticket.png).
    ``person_page("phone", mobile=True)`` opens a 390 px phone."""
    pages = []
    shots = Shots(None, request.node.name)

    def open_page(who: str, *, mobile: bool = False):
        page = _new_page(
            browser, live_server.url, who, viewport=MOBILE if mobile else None, mobile=mobile
        )
        page.shots = lambda label, **options: shots(f"{who}-{label}", page, **options)
        pages.append(page)
        return page

    yield open_page
    _finish(pages)


@pytest.fixture
def logged_in(live_server):
    """``logged_in(page, user)``: ``page``'s browser is signed in as ``user``. The session
    is made on the server once per user (no login form, no password hashing) and the same
    cookie is given to every page of that user in the test."""

    cookies: dict[int, str] = {}

    def sign_in(page, user):
        if user.pk not in cookies:
            client = Client()
            client.force_login(user, backend="accounts.backends.EmailBackend")
            cookies[user.pk] = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": cookies[user.pk],
                    "url": live_server.url,
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )
        return page

    return sign_in


ROLE_FACTORIES = {
    "admin": "AdminFactory",
    "finance": "FinanceFactory",
    "support": "StaffFactory",
    "customer": "UserFactory",
}


@pytest.fixture
def role_page(browser, live_server, request, logged_in):
    """``role_page("support")``: a page signed in as a user of that role (``page.user``),
    made once per role in the test; another page of the same role (``role_page("support",
    mobile=True)``) starts from the first one's storage state, so it is signed in too.
    Screenshots are one numbered sequence named after the role."""

    pages, users, states = [], {}, {}
    shots = Shots(None, request.node.name)

    def open_page(role: str, *, mobile: bool = False):
        page = _new_page(
            browser,
            live_server.url,
            role,
            viewport=MOBILE if mobile else None,
            mobile=mobile,
            storage_state=states.get(role),
        )
        if role not in users:
            users[role] = getattr(factories, ROLE_FACTORIES[role])(email=f"{role}.e2e@example.com")
            logged_in(page, users[role])
            states[role] = page.context.storage_state()
        page.user = users[role]
        page.shots = lambda label, **options: shots(f"{role}-{label}", page, **options)
        pages.append(page)
        return page

    yield open_page
    _finish(pages)


@pytest.fixture(scope="session", autouse=True)
def _forget_vectors_of_flushed_articles(django_db_setup, django_db_blocker):
    """The browser tests' database is emptied with TRUNCATE, which fires no DELETE trigger:
    the help articles' vectors (support_article_embedding, a table Django does not know)
    would outlive their articles into later sessions of the reused test database. They are
    forgotten when the browser tests end."""
    yield

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('support_article_embedding') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute(
                "DELETE FROM support_article_embedding e WHERE NOT EXISTS "
                "(SELECT 1 FROM support_article a WHERE a.id = e.article_id)"
            )
