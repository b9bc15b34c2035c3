"""The console home's "Top unanswered questions" card: what customers asked the help bot
that the help centre could not answer, most asked first, from the nightly rollups
(``helpbot_insights.selectors``). Shown to the roles that may open the unanswered questions'
list (``console.navigation``'s rule: SUPPORT and ADMIN); the "Draft an article" links only to
those the staff policy lets draft (``support.article.draft``)."""

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from accounts import authority
from console.navigation import Entry, may_open
from helpbot_insights.selectors import (
    DEFAULT_PERIOD_DAYS,
    PERIODS_DAYS,
    top_unanswered_questions,
)

ENTRY = Entry("Unanswered questions", "help", "helpbot_insights.unansweredquestion")
PARAM = "questions"


def _days(request) -> int:
    raw = request.GET.get(PARAM, "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS_DAYS else DEFAULT_PERIOD_DAYS


def card_for(request) -> dict | None:
    if not may_open(request, ENTRY):
        return None
    days = _days(request)
    today = datetime.now(UTC).date()  # the rollup's days are UTC days
    questions = top_unanswered_questions(start=today - timedelta(days=days), end=today)
    may_draft = authority.may(request.user, "support.article.draft")
    rows = [
        {
            "question": question.question,
            "count": question.count,
            "last_asked": question.last_asked,
            "draft_url": reverse(
                "admin:helpbot_insights_unansweredquestion_draft", args=[question.answer_id]
            )
            if may_draft and question.answer_id
            else "",
        }
        for question in questions
    ]
    return {
        "days": days,
        "rows": rows,
        "periods": [
            {"days": n, "url": f"?{PARAM}={n}", "selected": n == days} for n in PERIODS_DAYS
        ],
        "list_url": reverse("admin:helpbot_insights_unansweredquestion_changelist"),
    }
