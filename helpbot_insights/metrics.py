"""The help bot's quality, rolled up daily with the other analytics (analytics.rollup):
how often it answers, how often customers find the answers helpful, and what it could not
answer."""

from decimal import Decimal

from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, fetch, ratio
from analytics.metrics.registry import register
from support.models import ChatMessage, ChatRole

# Enough per day that a question asked a few times every day still adds up over a period on
# the console's "Top unanswered questions" card (helpbot_insights.selectors).
TOP_UNANSWERED = 20

DEFINITION = """
ANSWERS = the bot's replies during the day (UTC). ANSWER RATE = replies that cited the
knowledge base ÷ replies (the rest said "I don't know" and offered the hand-off).
UNANSWERED = replies without an answer; the metadata lists the day's 20 most asked of those
questions (trimmed, case-folded) with their counts, when each was last asked and the id of
the bot's last reply to it. HELPFUL RATE = answers rated helpful ÷ answers rated, by the
time of the rating (0 on a day without ratings; the metadata gives the count).
"""


def compute(day) -> list[Row]:
    start, end = day_bounds(day)
    params = {
        "start": start,
        "end": end,
        "bot": ChatRole.BOT,
        "customer": ChatRole.CUSTOMER,
        "top": TOP_UNANSWERED,
    }
    answers, answered = fetch(
        """
        SELECT COUNT(*), COUNT(*) FILTER (WHERE answered)
        FROM {messages}
        WHERE role = %(bot)s AND created_at >= %(start)s AND created_at < %(end)s
    """,
        params,
        messages=ChatMessage,
    )[0]
    rated, helpful = fetch(
        """
        SELECT COUNT(*), COUNT(*) FILTER (WHERE helpful)
        FROM {messages}
        WHERE role = %(bot)s AND helpful IS NOT NULL
          AND rated_at >= %(start)s AND rated_at < %(end)s
    """,
        params,
        messages=ChatMessage,
    )[0]
    return [
        Row("bot_answers", Decimal(answers)),
        Row(
            "bot_answer_rate",
            ratio(answered, answers),
            "",
            {"answered": answered, "answers": answers},
        ),
        Row(
            "bot_unanswered",
            Decimal(answers - answered),
            "",
            {"top_questions": _top_unanswered(params)},
        ),
        Row("bot_helpful_rate", ratio(helpful, rated), "", {"helpful": helpful, "rated": rated}),
    ]


def _top_unanswered(params: dict) -> list[dict]:
    """The day's most asked questions the bot could not answer (trimmed, case-folded), each
    with its count, when it was last asked and the bot's last reply to it."""
    top = fetch(
        """
        SELECT lower(btrim(q.body)) AS question, COUNT(*) AS n,
               MAX(a.created_at) AS last_asked, MAX(a.id) AS answer_id
        FROM {messages} a
        JOIN LATERAL (SELECT m.body FROM {messages} m
                      WHERE m.conversation_id = a.conversation_id AND m.role = %(customer)s
                        AND m.id < a.id ORDER BY m.id DESC LIMIT 1) q ON true
        WHERE a.role = %(bot)s AND a.answered = false
          AND a.created_at >= %(start)s AND a.created_at < %(end)s
        GROUP BY 1 ORDER BY n DESC, question LIMIT %(top)s
    """,
        params,
        messages=ChatMessage,
    )
    return [
        {"question": q[:200], "count": n, "last_asked": last.isoformat(), "answer_id": answer_id}
        for q, n, last, answer_id in top
    ]


QUALITY = register(
    MetricFamily(
        key="bot_quality",
        title="Help-bot answers",
        version=2,
        definition=DEFINITION,
        metrics=(
            Metric("bot_answers", "Bot answers", Unit.COUNT),
            Metric("bot_answer_rate", "Bot answer rate", Unit.RATIO),
            Metric("bot_unanswered", "Questions the bot could not answer", Unit.COUNT),
            Metric("bot_helpful_rate", "Bot helpful rate", Unit.RATIO),
        ),
        compute=compute,
    )
)
