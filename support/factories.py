from datetime import timedelta

import factory
from django.utils import timezone

from accounts.factories import StaffFactory, UserFactory
from support.models import (
    ApprovalRequest,
    Article,
    ArticleStatus,
    ArticleType,
    ChatMessage,
    ChatRole,
    Conversation,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket row as the database holds it. Tests of behaviour open tickets through
    ``support.services.open_ticket``; this factory sets up states directly."""

    class Meta:
        model = Ticket

    customer = factory.SubFactory(UserFactory)
    subject = factory.Sequence(lambda n: f"Problem number {n}")
    description = "Something does not work as expected."
    status = TicketStatus.OPEN
    priority = TicketPriority.MEDIUM
    number = factory.Sequence(lambda n: f"F{n:06d}")
    first_response_due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))
    resolution_due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=72))


class TicketMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketMessage

    ticket = factory.SubFactory(TicketFactory)
    author = factory.LazyAttribute(lambda o: o.ticket.customer)
    body = factory.Faker("paragraph")
    internal = False


class InternalNoteFactory(TicketMessageFactory):
    author = factory.SubFactory(StaffFactory)
    internal = True


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Help article {n}")
    slug = factory.Sequence(lambda n: f"help-article-{n}")
    body = "A paragraph of help.\n\nAnother paragraph."
    content_type = ArticleType.FAQ
    status = ArticleStatus.PUBLISHED
    tags = factory.LazyFunction(list)
    published_at = factory.LazyFunction(timezone.now)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    customer = factory.SubFactory(UserFactory)


class ChatMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChatMessage

    conversation = factory.SubFactory(ConversationFactory)
    role = ChatRole.BOT
    body = "An answer."
    answered = True


class ApprovalRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApprovalRequest

    action_key = "credits.adjust"
    payload = factory.LazyFunction(dict)
    amount = 5000
    requested_by = factory.SubFactory(StaffFactory)
