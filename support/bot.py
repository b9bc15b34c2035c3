"""The help bot: answers a customer's question from the knowledge base, or says it does not
know and offers to hand the conversation to a human (a ticket with the transcript)."""

from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core import audit
from core.api import Conflict, NotFound
from core.models import AuditAction
from core.system_config import get_config
from support import kb, services
from support.models import ChatMessage, ChatRole, Conversation, Ticket, TicketPriority

MAX_CITATIONS = 3
RELATIVE_CUTOFF = Decimal("0.4")
# A best hit ranked below this must also share at least MIN_COVERAGE of the question's words
# (stemmed, stop words left out): a weak match on one common word ("support", "cancel") of a
# question about something else is not an answer.
CONFIDENT_RANK = Decimal("0.2")
MIN_COVERAGE = 0.5
NOT_KNOWN = (
    "I could not find an answer to that in our help centre. I can hand this conversation to "
    "our support team: they will open a ticket with it and reply by e-mail."
)


def coverage(article, question: str) -> float:
    """The share of the question's words (as PostgreSQL's English dictionary stems them,
    without stop words) that the article contains."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FILTER (WHERE w = ANY (tsvector_to_array(a.search_vector))),
                      count(*)
                 FROM support_article a,
                      unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS w
                WHERE a.id = %s""",
            [kb.CONFIG, question, article.pk],
        )
        shared, total = cursor.fetchone()
    return shared / total if total else 0.0


def find_answer(question: str) -> list[dict]:
    """The best-matching published articles above the rank threshold, each with the
    paragraph that matches best. Empty when the bot does not know: nothing ranks above the
    threshold, or the best hit is weak and shares too few of the question's words."""
    threshold = Decimal(get_config("support_bot_min_rank"))
    citations: list[dict[str, Any]] = []
    for article in kb.search_articles(question, mode="any")[:MAX_CITATIONS]:
        rank = Decimal(str(article.rank))
        if (
            not citations
            and rank < CONFIDENT_RANK
            and rank >= threshold
            and coverage(article, question) < MIN_COVERAGE
        ):
            break
        # Below the absolute threshold the bot does not know; well below the best hit an
        # article is noise next to it (it matched a common word), so it is not cited.
        if rank < threshold or (citations and rank < citations[0]["rank"] * RELATIVE_CUTOFF):
            break
        citations.append(
            {
                "article": article,
                "passage": kb.best_passage(article, question),
                "rank": rank,
            }
        )
    return citations


def _answer_text(citations: list[dict]) -> str:
    parts = ["Here is what our help centre says:"]
    for citation in citations:
        article = citation["article"]
        parts.append(
            f"{article.title}: {citation['passage']} (read more: {article.get_absolute_url()})"
        )
    return "\n\n".join(parts)


def ask(*, customer, message: str, conversation: Conversation | None = None):
    """Record the customer's message and the bot's answer; start a conversation if none is
    given. Returns (conversation, customer message, bot message). ``NotFound`` for another
    customer's conversation; ``Conflict`` once the conversation has been handed off."""
    if conversation is not None and conversation.customer_id != customer.pk:
        raise NotFound()
    citations = find_answer(message)
    with transaction.atomic():
        if conversation is None:
            conversation = Conversation.objects.create(customer=customer)
            audit.record(actor=customer, action=AuditAction.CREATE, resource=conversation)
        else:
            conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
            if conversation.handed_off_ticket_id:
                raise Conflict(
                    "This conversation was handed to our support team; reply on the ticket.",
                    code="conversation_handed_off",
                    ticket_id=conversation.handed_off_ticket_id,
                )
        asked = ChatMessage.objects.create(
            conversation=conversation, role=ChatRole.CUSTOMER, body=message.strip()
        )
        answer = ChatMessage.objects.create(
            conversation=conversation,
            role=ChatRole.BOT,
            answered=bool(citations),
            body=_answer_text(citations) if citations else NOT_KNOWN,
        )
        answer.cited_articles.set([c["article"] for c in citations])
        conversation.save(update_fields=["updated_at"])
    # What the bot's answer cites, for the reply (the rows keep only the articles).
    answer.citations = citations  # type: ignore[attr-defined]
    return conversation, asked, answer


def transcript(conversation: Conversation) -> str:
    lines = []
    for message in conversation.messages.all():
        who = {"customer": "Customer", "bot": "Help bot", "staff": "Staff"}[message.role]
        lines.append(f"{who} ({message.created_at:%Y-%m-%d %H:%M} UTC):\n{message.body}")
    return "\n\n".join(lines)


def handoff(*, conversation: Conversation, customer) -> Ticket:
    """Open a ticket carrying the conversation's transcript. Safe to call twice: a conversation
    already handed off returns its ticket. Locks the conversation."""
    if conversation.customer_id != customer.pk:
        raise NotFound()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.handed_off_ticket_id and conversation.handed_off_ticket is not None:
            return conversation.handed_off_ticket
        first = conversation.messages.filter(role=ChatRole.CUSTOMER).first()
        if first is None:
            raise Conflict(
                "There is nothing to hand over yet: ask a question first.",
                code="conversation_empty",
            )
        subject = first.body.splitlines()[0][:120] or "Question from the help bot"
        ticket = services.open_ticket(
            customer=customer,
            subject=f"Chat: {subject}",
            description="Handed over from the help bot. Transcript:\n\n" + transcript(conversation),
            priority=TicketPriority.MEDIUM,
            metadata={"conversation_id": conversation.pk},
        )
        conversation.handed_off_ticket = ticket
        conversation.handed_off_at = timezone.now()
        conversation.save(update_fields=["handed_off_ticket", "handed_off_at", "updated_at"])
        audit.record(
            actor=customer,
            action=AuditAction.UPDATE,
            resource=conversation,
            new={"handed_off_ticket_id": ticket.pk},
        )
    return ticket


def rate(*, conversation: Conversation, message_id: int, customer, helpful: bool) -> ChatMessage:
    """The customer rates one bot answer (a later rating replaces an earlier one). A helpful
    answer marks the conversation resolved."""
    if conversation.customer_id != customer.pk:
        raise NotFound()
    with transaction.atomic():
        message = (
            ChatMessage.objects.select_for_update()
            .filter(conversation=conversation, pk=message_id, role=ChatRole.BOT)
            .first()
        )
        if message is None:
            raise NotFound()
        message.helpful = bool(helpful)
        message.rated_at = timezone.now()
        message.save(update_fields=["helpful", "rated_at", "updated_at"])
        if helpful and not conversation.resolved:
            Conversation.objects.filter(pk=conversation.pk).update(resolved=True)
        audit.record(
            actor=customer,
            action=AuditAction.UPDATE,
            resource=message,
            new={"helpful": bool(helpful)},
        )
    return message
