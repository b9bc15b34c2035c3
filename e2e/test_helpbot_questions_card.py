"""A support agent's console home: the "Top unanswered questions" card lists what customers
asked the help bot in vain (from the nightly rollups), at 1280 px and on a phone, and
following a question's link drafts a help article from it."""

from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from accounts.factories import UserFactory
from analytics.rollup import rollup_day
from support.models import Article, ArticleStatus, ChatMessage, ChatRole, Conversation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _asked(question: str, days_ago: int) -> None:
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    conversation = Conversation.objects.create(customer=UserFactory())
    ChatMessage.objects.create(conversation=conversation, role=ChatRole.CUSTOMER, body=question)
    ChatMessage.objects.create(
        conversation=conversation, role=ChatRole.BOT, body="No idea.", answered=False
    )
    when = datetime.combine(day, time(11), tzinfo=UTC)
    ChatMessage.objects.filter(conversation=conversation).update(created_at=when)
    rollup_day(day, ["bot_quality"])


def test_support_sees_the_questions_and_drafts_an_article(role_page):
    for days_ago in (1, 2, 3):
        _asked("Do you support SAML single sign-on with Okta?", days_ago)
    _asked("  do you support saml single sign-on with okta? ", 2)
    _asked("Can I pay with PayPal?", 2)
    _asked("Is there a discount for non-profit organisations registered in the EU?", 5)

    page = role_page("support")
    page.goto("/admin/")
    card = page.get_by_test_id("top-unanswered")
    expect(card.get_by_role("heading", name="Top unanswered questions")).to_be_visible()
    expect(card.locator(".console-question")).to_have_text(
        [
            "do you support saml single sign-on with okta?",
            "can i pay with paypal?",
            "is there a discount for non-profit organisations registered in the eu?",
        ]
    )
    expect(card.locator("li").first).to_contain_text("Asked 4 times")
    page.shots("card-1280")

    phone = role_page("support", mobile=True)
    phone.goto("/admin/")
    expect(
        phone.get_by_test_id("top-unanswered").locator(".console-question").first
    ).to_be_visible()
    phone.shots("card-phone")

    card.get_by_role("link", name="Draft an article").first.click()
    expect(page.get_by_text("Do you support SAML single sign-on with Okta?").first).to_be_visible()
    page.shots("draft-confirm")
    page.get_by_role("button", name="Create the draft article").click()
    page.wait_for_url(lambda url: "/admin/support/article/" in url)
    expect(page.get_by_text("created: write the answer and publish it")).to_be_visible()
    page.shots("draft-article")
    article = Article.objects.get()
    assert article.status == ArticleStatus.DRAFT
    assert article.title == "Do you support SAML single sign-on with Okta?"


def test_the_card_says_when_there_is_nothing_to_answer(role_page):
    page = role_page("support")
    page.goto("/admin/")
    expect(page.get_by_test_id("top-unanswered")).to_contain_text(
        "No unanswered questions in the last 30 days"
    )
    page.shots("empty")
