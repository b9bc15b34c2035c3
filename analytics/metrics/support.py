"""Support desk: tickets, first-response time and the help bot's deflection rate."""

from decimal import Decimal

from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, dec, fetch, ratio
from analytics.metrics.registry import register
from support.models import ChatMessage, ChatRole, Conversation, Ticket

TICKETS_DEFINITION = """
Tickets OPENED = tickets created during the day (UTC). RESOLVED = tickets whose resolved_at
falls in the day. MEDIAN FIRST RESPONSE = the median (percentile_cont 0.5, interpolated) of
first_response_at − created_at, in seconds, over tickets first answered by staff during the
day; no value on a day without first responses (the metadata gives the count).
"""


def compute_tickets(day) -> list[Row]:
    start, end = day_bounds(day)
    template = """
        SELECT opened.n, resolved.n, first.n, first.median
        FROM (SELECT COUNT(*) AS n FROM {tickets}
              WHERE created_at >= %(start)s AND created_at < %(end)s) opened,
             (SELECT COUNT(*) AS n FROM {tickets}
              WHERE resolved_at >= %(start)s AND resolved_at < %(end)s) resolved,
             (SELECT COUNT(*) AS n,
                     percentile_cont(0.5) WITHIN GROUP (
                         ORDER BY EXTRACT(EPOCH FROM first_response_at - created_at)) AS median
              FROM {tickets}
              WHERE first_response_at >= %(start)s AND first_response_at < %(end)s) first
    """
    opened, resolved, responses, median = fetch(
        template, {"start": start, "end": end}, tickets=Ticket
    )[0]
    rows = [Row("tickets_opened", Decimal(opened)), Row("tickets_resolved", Decimal(resolved))]
    if responses:
        rows.append(
            Row("median_first_response_seconds", dec(median), "", {"first_responses": responses})
        )
    return rows


TICKETS = register(
    MetricFamily(
        key="tickets",
        title="Support tickets",
        version=1,
        definition=TICKETS_DEFINITION,
        metrics=(
            Metric("tickets_opened", "Tickets opened", Unit.COUNT),
            Metric("tickets_resolved", "Tickets resolved", Unit.COUNT),
            Metric("median_first_response_seconds", "Median first response", Unit.SECONDS),
        ),
        compute=compute_tickets,
    )
)


BOT_DEFINITION = """
Help-bot conversations started during the day (UTC). DEFLECTED = those in which the bot gave
at least one answer from the knowledge base and that were not handed to a human (no ticket).
DEFLECTION RATE = deflected ÷ conversations (0 on a day without conversations). A
conversation handed off after the day was rolled up counts once the day is re-run.
"""


def compute_bot(day) -> list[Row]:
    start, end = day_bounds(day)
    template = """
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE c.handed_off_ticket_id IS NULL
                                AND c.handed_off_at IS NULL
                                AND EXISTS (SELECT 1 FROM {messages} m
                                            WHERE m.conversation_id = c.id
                                              AND m.role = %(bot)s AND m.answered))
        FROM {conversations} c
        WHERE c.created_at >= %(start)s AND c.created_at < %(end)s
    """
    conversations, deflected = fetch(
        template,
        {"start": start, "end": end, "bot": ChatRole.BOT},
        messages=ChatMessage,
        conversations=Conversation,
    )[0]
    return [
        Row("bot_conversations", Decimal(conversations)),
        Row("bot_deflected", Decimal(deflected)),
        Row(
            "bot_deflection_rate",
            ratio(deflected, conversations),
            "",
            {"deflected": deflected, "conversations": conversations},
        ),
    ]


BOT = register(
    MetricFamily(
        key="bot",
        title="Help bot",
        version=1,
        definition=BOT_DEFINITION,
        metrics=(
            Metric("bot_conversations", "Bot conversations", Unit.COUNT),
            Metric("bot_deflected", "Conversations deflected", Unit.COUNT),
            Metric("bot_deflection_rate", "Bot deflection rate", Unit.RATIO),
        ),
        compute=compute_bot,
    )
)
