"""The console home's "Top unanswered questions" card: read from the nightly rollups (most
asked first, alike questions together, count and last asked), in a constant number of
queries, shown to the roles that work on the help bot's questions, each question linking to
the page that drafts a help article from it."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from accounts.seed_steps import SeedContext
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from core.models import AuditLog
from helpbot_insights.demo import seed_unanswered
from helpbot_insights.selectors import top_unanswered_questions
from support.models import Article, ArticleStatus, ChatMessage, ChatRole, Conversation

pytestmark = pytest.mark.django_db
TODAY = datetime.now(UTC).date()


def _unanswered(question: str, day, hour: int = 10) -> ChatMessage:
    """A customer asks ``question`` on ``day`` and the bot has no answer."""
    conversation = Conversation.objects.create(customer=UserFactory())
    ChatMessage.objects.create(conversation=conversation, role=ChatRole.CUSTOMER, body=question)
    answer = ChatMessage.objects.create(
        conversation=conversation, role=ChatRole.BOT, body="No idea.", answered=False
    )
    when = datetime.combine(day, time(hour), tzinfo=UTC)
    ChatMessage.objects.filter(conversation=conversation).update(created_at=when)
    answer.refresh_from_db()
    return answer


def _roll_up(*days) -> None:
    for day in days:
        rollup_day(day, ["bot_quality"])


def _staff(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _card(browser) -> str:
    page = browser.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    match = re.search(r'data-testid="top-unanswered">(.*?)</section>', html, re.S)
    return match.group(1) if match else ""


def _questions(card: str) -> list[str]:
    return re.findall(r'<span class="console-question">([^<]*)</span>', card)


@pytest.fixture
def asked():
    """Three days of questions, rolled up: SAML 4 times (typed two ways), PayPal twice."""
    one, two, three = (TODAY - timedelta(days=n) for n in (3, 2, 1))
    _unanswered("Do you support SAML?", one)
    _unanswered("  do you support saml? ", two)
    _unanswered("DO YOU SUPPORT SAML?", three, hour=8)
    last_saml = _unanswered("Do you support SAML?", three, hour=9)
    _unanswered("Can I pay with PayPal?", one)
    last_paypal = _unanswered("can I pay with PayPal?", two, hour=15)
    _roll_up(one, two, three)
    return {"saml": last_saml, "paypal": last_paypal}


def test_the_card_lists_the_most_asked_first_with_count_and_last_asked(asked):
    card = _card(_staff(StaffFactory()))
    assert _questions(card) == ["do you support saml?", "can i pay with paypal?"]
    assert "Asked 4 times · last" in card and "Asked 2 times · last" in card
    saml_day = asked["saml"].created_at
    assert f"last {saml_day:%-d %b %Y}, 09:00" in card
    # Each links to the page that drafts an article from the last time it was asked.
    assert f'href="/admin/helpbot_insights/unansweredquestion/{asked["saml"].pk}/draft/"' in card
    assert f'href="/admin/helpbot_insights/unansweredquestion/{asked["paypal"].pk}/draft/"' in card


def test_the_selector_adds_the_days_up_and_keeps_the_period(asked):
    week = top_unanswered_questions(start=TODAY - timedelta(days=7), end=TODAY)
    assert [(q.question, q.count) for q in week] == [
        ("do you support saml?", 4),
        ("can i pay with paypal?", 2),
    ]
    assert week[0].answer_id == asked["saml"].pk
    assert week[0].last_asked == asked["saml"].created_at
    yesterday = top_unanswered_questions(start=TODAY - timedelta(days=1), end=TODAY)
    assert [(q.question, q.count) for q in yesterday] == [("do you support saml?", 2)]


def test_the_card_reads_a_constant_number_of_queries(asked):
    browser = _staff(StaffFactory())
    _card(browser)  # warm: session, site, permissions
    with CaptureQueriesContext(connection) as few:
        _card(browser)
    for n in range(12):
        day = TODAY - timedelta(days=4 + n % 5)
        _unanswered(f"Question number {n}?", day)
    _roll_up(*(TODAY - timedelta(days=n) for n in range(1, 10)))
    with CaptureQueriesContext(connection) as many:
        card = _card(browser)
    assert len(_questions(card)) == 10  # the ten most asked
    assert len(many) == len(few)
    rollup_reads = [q for q in many.captured_queries if "analytics_dailymetric" in q["sql"]]
    assert len(rollup_reads) == 1


def test_the_period_links_choose_the_days(asked):
    _unanswered("An old question?", TODAY - timedelta(days=20))
    _roll_up(TODAY - timedelta(days=20))
    browser = _staff(StaffFactory())
    assert "an old question?" in _questions(_card(browser))
    week = browser.get("/admin/", {"questions": "7"}).content.decode()
    assert "an old question?" not in week and 'aria-current="true">Last 7 days' in week


def test_the_empty_card_says_so():
    card = _card(_staff(StaffFactory()))
    assert "No unanswered questions in the last 30 days" in card
    assert _questions(card) == []


def test_days_rolled_up_before_the_reply_was_kept_still_count_without_a_link():
    DailyMetric.objects.create(
        date=TODAY - timedelta(days=2),
        metric="bot_unanswered",
        value=3,
        definition_version=1,
        metadata={"top_questions": [{"question": "where is my invoice?", "count": 3}]},
    )
    card = _card(_staff(StaffFactory()))
    assert _questions(card) == ["where is my invoice?"] and "Asked 3 times" in card
    assert "/draft/" not in card


@pytest.mark.parametrize(
    "factory, sees",
    [(StaffFactory, True), (AdminFactory, True), (FinanceFactory, False)],
    ids=["support", "admin", "finance"],
)
def test_which_roles_see_the_card(asked, factory, sees):
    page = _staff(factory()).get("/admin/").content.decode()
    assert ('data-testid="top-unanswered"' in page) is sees


def test_a_customer_never_reaches_the_card_or_the_draft_page(asked):
    browser = _staff(UserFactory())
    assert browser.get("/admin/").status_code == 302
    draft = browser.post(f"/admin/helpbot_insights/unansweredquestion/{asked['saml'].pk}/draft/")
    assert draft.status_code == 302 and "/admin/login/" in draft["Location"]
    assert not Article.objects.exists()


def test_following_the_link_drafts_an_article(asked):
    agent = StaffFactory()
    browser = _staff(agent)
    link = re.search(r'href="(/admin/[^"]+/draft/)"', _card(browser)).group(1)
    page = browser.get(link).content.decode()
    assert "Do you support SAML?" in page
    action = re.search(r'<form method="post" action="([^"]+)"', page.split('id="content"')[-1])
    done = browser.post(action.group(1))
    article = Article.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/admin/support/article/{article.pk}/change/"
    assert article.status == ArticleStatus.DRAFT and article.title == "Do you support SAML?"
    assert article.tags == ["from-help-bot"]
    assert AuditLog.objects.filter(
        actor=agent, context__operation="draft_from_unanswered_question"
    ).exists()


def test_finance_cannot_draft(asked):
    response = _staff(FinanceFactory()).post(
        f"/admin/helpbot_insights/unansweredquestion/{asked['saml'].pk}/draft/"
    )
    assert response.status_code == 403
    assert not Article.objects.exists()


def test_the_demo_questions_fill_the_card_and_seeding_twice_adds_nothing():
    for email in ("alice@demo.example", "bob@demo.example"):
        UserFactory(email=email)
    context = SeedContext(stdout=_Sink(), stderr=_Sink(), passwords={})
    seed_unanswered(context)
    asked = ChatMessage.objects.count()
    seed_unanswered(context)
    assert ChatMessage.objects.count() == asked
    top = top_unanswered_questions(start=TODAY - timedelta(days=30), end=TODAY)
    assert top[0].question == "do you support saml single sign-on?" and top[0].count == 14
    assert len(top) == 5


class _Sink:
    def write(self, text):
        pass
