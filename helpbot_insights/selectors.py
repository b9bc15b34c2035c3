"""Reads of the help bot's rolled-up days for the staff console."""

from dataclasses import dataclass
from datetime import date, datetime

from analytics.metrics.base import fetch
from analytics.models import DailyMetric

PERIODS_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
TOP_LIMIT = 10


@dataclass(frozen=True)
class TopQuestion:
    question: str  # trimmed and case-folded, as the nightly rollup groups them
    count: int
    last_asked: datetime
    # The bot's last reply to it (a draft article is made from it); None on days rolled up
    # before the rollup kept it.
    answer_id: int | None


def top_unanswered_questions(
    *, start: date, end: date, limit: int = TOP_LIMIT
) -> list[TopQuestion]:
    """The questions the bot could not answer, most asked first, over the days [start, end]
    that the nightly rollup has done (``bot_unanswered``'s metadata: each day's most asked).

    Near-identical questions were already grouped by the rollup (trimmed, case-folded); the
    days are added up here in one query, whatever the number of questions or days."""
    rows = fetch(
        """
        SELECT q->>'question' AS question,
               SUM((q->>'count')::int) AS asked,
               MAX(COALESCE((q->>'last_asked')::timestamptz, m.date::timestamptz)) AS last_asked,
               (array_agg((q->>'answer_id')::bigint ORDER BY m.date DESC)
                    FILTER (WHERE q->>'answer_id' IS NOT NULL))[1] AS answer_id
        FROM {metrics} m
        CROSS JOIN LATERAL jsonb_array_elements(
            COALESCE(m.metadata->'top_questions', '[]'::jsonb)) q
        WHERE m.metric = %(metric)s AND m.dimension = ''
          AND m.date >= %(start)s AND m.date <= %(end)s
        GROUP BY 1
        ORDER BY asked DESC, last_asked DESC, question
        LIMIT %(limit)s
    """,
        {"metric": "bot_unanswered", "start": start, "end": end, "limit": limit},
        metrics=DailyMetric,
    )
    return [
        TopQuestion(question=question, count=int(asked), last_asked=last, answer_id=answer_id)
        for question, asked, last, answer_id in rows
    ]
