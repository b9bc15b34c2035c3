"""Turning a question the help bot could not answer into a draft help article."""

from django.db import transaction
from django.utils.text import slugify

from accounts import authority
from accounts.models import User
from core import audit
from core.models import AuditAction
from support.models import Article, ArticleStatus, ArticleType, ChatMessage, ChatRole


def question_for(answer: ChatMessage) -> str:
    """The customer's message the bot ``answer`` replied to."""
    asked = (
        ChatMessage.objects.filter(
            conversation_id=answer.conversation_id, role=ChatRole.CUSTOMER, pk__lt=answer.pk
        )
        .order_by("-pk")
        .values_list("body", flat=True)
        .first()
    )
    return (asked or "").strip()


def _free_slug(title: str) -> str:
    base = (slugify(title)[:180] or "question").strip("-") or "question"
    slug, n = base, 1
    while Article.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def draft_article(*, answer: ChatMessage, actor: User | None) -> Article:
    """A DRAFT article titled with the question, for staff to write and publish."""
    authority.require(actor, "support.article.draft")
    question = question_for(answer)
    if not question:
        raise ValueError("This answer has no question before it.")
    title = question.splitlines()[0][:200]
    with transaction.atomic():
        article = Article.objects.create(
            title=title,
            slug=_free_slug(title),
            content_type=ArticleType.FAQ,
            status=ArticleStatus.DRAFT,
            tags=["from-help-bot"],
            body=(
                "A customer asked the help bot:\n\n> "
                + question.replace("\n", "\n> ")
                + "\n\nThe bot found no answer. Write the answer here, then publish."
            ),
        )
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            resource=article,
            operation="draft_from_unanswered_question",
            chat_message=answer.pk,
        )
    return article
