"""The help bot is honest about what it does not know, and staff see how it does: ratings per
article, the answers rated down, and the questions it could not answer (drafted into
articles from the console)."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from core.models import AuditLog
from support.bot import NOT_KNOWN
from support.models import Article, ArticleStatus, ChatMessage, ChatRole, Ticket
from support.seed_data import ARTICLES

pytestmark = pytest.mark.django_db
CHAT = "/api/v1/chat/"


@pytest.fixture
def help_centre():
    """The help centre the product ships with."""
    for spec in ARTICLES:
        Article.objects.create(**spec, status=ArticleStatus.PUBLISHED, published_at=timezone.now())


def _ask(api, question, conversation=None):
    body = {"message": question}
    if conversation:
        body["conversation_id"] = conversation
    response = api.post(CHAT, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(
    "question",
    [
        "How do I cancel my dog's vet appointment?",
        "Do you support SAML single sign-on with Okta?",
        "Can you recommend a good pizza recipe?",
    ],
)
def test_an_unrelated_question_gets_i_dont_know_and_the_handoff_not_articles(
    customer_api, help_centre, question
):
    answer = _ask(customer_api, question)
    assert answer["answer"]["answered"] is False
    assert answer["answer"]["citations"] == []
    assert answer["answer"]["body"] == NOT_KNOWN
    assert answer["handoff_available"] is True
    ticket = customer_api.post(answer["handoff_url"], format="json")
    assert ticket.status_code == 201
    assert question in Ticket.objects.get(pk=ticket.json()["id"]).description


@pytest.mark.parametrize(
    "question, slug",
    [
        ("how do I get a refund", "request-refund"),
        ("I forgot my password", "account-security"),
        ("how many credits do I have left", "credit-expiry"),
        ("upgrade my plan", "change-plan"),
    ],
)
def test_a_question_the_help_centre_covers_is_answered(customer_api, help_centre, question, slug):
    answer = _ask(customer_api, question)
    assert answer["answer"]["answered"] is True and answer["handoff_available"] is False
    assert slug in [c["slug"] for c in answer["answer"]["citations"]]


def _rate(api, answer, helpful):
    url = f"{CHAT}{answer['conversation_id']}/messages/{answer['answer']['id']}/rate/"
    assert api.post(url, {"helpful": helpful}, format="json").status_code == 200


def _staff(user):
    browser = Client()
    browser.force_login(user)
    return browser


def test_staff_see_ratings_per_article_most_rated_down_first(
    customer_api, other_customer_api, help_centre
):
    down = _ask(customer_api, "upgrade my plan")
    _rate(customer_api, down, False)
    again = _ask(other_customer_api, "upgrade my plan")
    _rate(other_customer_api, again, False)
    up = _ask(customer_api, "delete my account")
    _rate(customer_api, up, True)

    admin = _staff(StaffFactory())  # the support team reads it
    page = admin.get("/admin/helpbot_insights/articlefeedback/")
    assert page.status_code == 200
    table = re.search(r'<table id="result_list"[^>]*>(.*?)</table>', page.content.decode(), re.S)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)[1:]
    text = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    change_plan = Article.objects.get(slug="change-plan")
    delete_account = Article.objects.get(slug="delete-account")
    row_of = {
        title: next(i for i, row in enumerate(text) if row.startswith(title))
        for title in (change_plan.title, delete_account.title)
    }
    assert "Published 2 0 2 0% of 2" in text[row_of[change_plan.title]]  # both rated down
    assert "100% of 1" in text[row_of[delete_account.title]]
    assert "0% of 2" in text[0]  # the most rated down first
    assert row_of[change_plan.title] < row_of[delete_account.title]

    listing = admin.get(
        "/admin/helpbot_insights/rateddownanswer/", {"cited_articles__id__exact": change_plan.pk}
    ).content.decode()
    assert listing.count("upgrade my plan") == 2


def test_unanswered_questions_are_listed_and_drafted_into_articles(customer_api, help_centre):
    _ask(customer_api, "Do you support SAML single sign-on with Okta?")
    _ask(customer_api, "upgrade my plan")  # answered: not listed
    support = StaffFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(support)
    page = browser.get("/admin/helpbot_insights/unansweredquestion/").content.decode()
    assert "SAML single sign-on" in page and "upgrade my plan" not in page
    selected = re.findall(r'name="_selected_action" value="(\d+)"', page)
    assert len(selected) == 1
    response = browser.post(
        "/admin/helpbot_insights/unansweredquestion/",
        {
            "action": "draft_article",
            "_selected_action": selected,
            "index": "0",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    draft = Article.objects.get(status=ArticleStatus.DRAFT)
    assert draft.title == "Do you support SAML single sign-on with Okta?"
    assert "SAML single sign-on with Okta" in draft.body and "from-help-bot" in draft.tags
    assert AuditLog.objects.filter(
        resource_type="support.Article", resource_id=str(draft.pk), actor=support
    ).exists()
    # A draft is not in the help centre: the bot still does not know.
    assert (
        _ask(customer_api, "Do you support SAML single sign-on with Okta?")["answer"]["answered"]
        is False
    )


def test_finance_does_not_see_the_insights():
    assert (
        _staff(FinanceFactory()).get("/admin/helpbot_insights/unansweredquestion/").status_code
        == 403
    )
    assert (
        _staff(AdminFactory()).get("/admin/helpbot_insights/unansweredquestion/").status_code == 200
    )


def test_the_daily_rollup_counts_answers_ratings_and_the_top_unanswered_questions(
    customer_api, other_customer_api, help_centre
):
    up = _ask(customer_api, "upgrade my plan")
    _rate(customer_api, up, True)
    down = _ask(customer_api, "delete my account")
    _rate(customer_api, down, False)
    for api in (customer_api, other_customer_api):
        _ask(api, "Do you support SAML single sign-on with Okta?")
    _ask(customer_api, "Can you recommend a good pizza recipe?")
    today = timezone.now().date()
    rollup_day(today, ["bot_quality"])
    values = {row.metric: row for row in DailyMetric.objects.filter(date=today)}
    assert values["bot_answers"].value == 5
    assert values["bot_answer_rate"].value == Decimal("0.4")
    assert values["bot_helpful_rate"].value == Decimal("0.5")
    assert values["bot_helpful_rate"].metadata == {"helpful": 1, "rated": 2}
    assert values["bot_unanswered"].value == 3
    top = values["bot_unanswered"].metadata["top_questions"]
    assert [(q["question"], q["count"]) for q in top] == [
        ("do you support saml single sign-on with okta?", 2),
        ("can you recommend a good pizza recipe?", 1),
    ]
    # When each was last asked and the bot's last reply to it (a draft is made from it).
    last_saml = ChatMessage.objects.filter(role=ChatRole.BOT, answered=False).order_by("pk")[1]
    assert top[0]["answer_id"] == last_saml.pk
    assert top[0]["last_asked"] == last_saml.created_at.isoformat()


def test_the_dashboard_charts_the_answer_and_helpful_rates(admin_user, customer_api, help_centre):
    answer = _ask(customer_api, "upgrade my plan")
    _rate(customer_api, answer, True)
    _ask(customer_api, "Can you recommend a good pizza recipe?")
    today = timezone.now().date()
    rollup_day(today, ["bot", "bot_quality"])
    page = _staff(admin_user).get(
        "/admin/analytics/", {"start": today.isoformat(), "end": today.isoformat()}
    )
    assert page.status_code == 200
    charts = {c["spec"].key: c["data"] for c in page.context["dash"]["charts"]}
    rates = {d["metric"]: d["data"] for d in charts["bot"]["datasets"]}
    assert rates["bot_answer_rate"] == [Decimal("0.5")]
    assert rates["bot_helpful_rate"] == [Decimal("1")]
    html = page.content.decode()
    assert "Help bot: deflection, answer and helpful rates" in html
    assert "Help-bot answers</strong>" in html  # the definition, with the others
