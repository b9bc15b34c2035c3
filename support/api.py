"""REST endpoints: customers' tickets, the public knowledge base, and the help bot.

Every ticket and conversation endpoint looks the row up among the caller's own, so another
customer's id answers 404. Internal notes never reach these serializers: threads are read
through ``TicketMessage.objects.public()`` only.
"""

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ErrorSerializer
from accounts.entitlements import RequiresEntitlement
from core.api import NotFound, Pagination
from core.api_fields import StrictCharField
from core.parsers import JSONParser
from support import bot, kb, selectors, services
from support.models import Article, ArticleType, ChatRole, TicketStatus
from support.related import clean_related
from support.services import CUSTOMER_PRIORITIES

# --- serializers -------------------------------------------------------------------------


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return reverse("support:attachment", args=[self.context["ticket_id"], obj.pk])


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    body = serializers.CharField()
    from_staff = serializers.BooleanField()
    author_name = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    attachments = serializers.SerializerMethodField()

    def get_author_name(self, obj) -> str:
        if obj.author is None:
            return "Support"
        return obj.author.name

    @extend_schema_field(AttachmentOut(many=True))
    def get_attachments(self, obj):
        return AttachmentOut(
            obj.attachments.all(), many=True, context={"ticket_id": obj.ticket_id}
        ).data


class TicketOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    assignee_name = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    related_order = serializers.CharField(
        source="related_order.number", read_only=True, allow_null=True, default=None
    )
    related_subscription = serializers.IntegerField(
        source="related_subscription_id", read_only=True, allow_null=True
    )

    def get_assignee_name(self, obj) -> str | None:
        return obj.assignee.name if obj.assignee_id else None


class TicketDetailOut(TicketOut):
    description = serializers.CharField()
    messages = serializers.SerializerMethodField()

    @extend_schema_field(MessageOut(many=True))
    def get_messages(self, obj):
        return MessageOut(obj.public_messages, many=True).data


class TicketIn(serializers.Serializer):
    subject = StrictCharField(max_length=200)
    description = StrictCharField(max_length=20_000)
    priority = serializers.ChoiceField(
        choices=[p.value for p in CUSTOMER_PRIORITIES] + ["URGENT"], default="MEDIUM"
    )
    attachments = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    related_order = StrictCharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="The number of one of your orders.",
    )
    related_subscription = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of your subscription."
    )


class MessageIn(serializers.Serializer):
    body = StrictCharField(max_length=20_000)
    attachments = serializers.ListField(child=serializers.FileField(), required=False, default=list)


def _files(data) -> list:
    # Multipart sends repeated "attachments" parts; DRF's ListField reads them via getlist.
    return list(data.get("attachments") or [])


# --- tickets -----------------------------------------------------------------------------


TICKET_PAGE = inline_serializer(
    "PaginatedTicketOutList",
    {
        "count": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
        "results": TicketOut(many=True),
    },
)


class TicketListCreate(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        tags=["support"],
        summary="My tickets, newest first (?status= filters)",
        operation_id="tickets_list",
        responses={200: TICKET_PAGE},
    )
    def get(self, request):
        qs = selectors.customer_tickets(request.user)
        wanted = request.query_params.get("status")
        if wanted in TicketStatus.values:
            qs = qs.filter(status=wanted)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TicketOut(page, many=True).data)

    @extend_schema(
        tags=["support"],
        summary="Open a ticket (JSON or multipart with files)",
        request=TicketIn,
        responses={201: TicketDetailOut},
    )
    def post(self, request):
        data = TicketIn(data=request.data)
        data.is_valid(raise_exception=True)
        related = clean_related(
            customer=request.user,
            order_number=data.validated_data.get("related_order"),
            subscription_id=data.validated_data.get("related_subscription"),
        )
        ticket = services.open_ticket(
            related=related,
            customer=request.user,
            subject=data.validated_data["subject"],
            description=data.validated_data["description"],
            priority=data.validated_data["priority"],
            files=_files(data.validated_data),
        )
        ticket = selectors.customer_ticket(request.user, ticket.pk)
        return Response(TicketDetailOut(ticket).data, status=status.HTTP_201_CREATED)


def _own_ticket(request, pk):
    ticket = selectors.customer_ticket(request.user, pk)
    if ticket is None:
        raise NotFound()
    return ticket


class TicketDetail(APIView):
    @extend_schema(
        tags=["support"],
        summary="One of my tickets with its thread",
        responses={200: TicketDetailOut},
    )
    def get(self, request, pk):
        return Response(TicketDetailOut(_own_ticket(request, pk)).data)


class TicketMessageCreate(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        tags=["support"],
        summary="Reply on my ticket (reopens a resolved one)",
        request=MessageIn,
        responses={201: MessageOut},
    )
    def post(self, request, pk):
        ticket = _own_ticket(request, pk)
        data = MessageIn(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.reply(
            ticket=ticket,
            author=request.user,
            body=data.validated_data["body"],
            files=_files(data.validated_data),
        )
        return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)


class TicketClose(APIView):
    @extend_schema(
        tags=["support"], summary="Close my ticket", request=None, responses={200: TicketDetailOut}
    )
    def post(self, request, pk):
        ticket = _own_ticket(request, pk)
        services.close(ticket=ticket, actor=request.user)
        return Response(TicketDetailOut(_own_ticket(request, pk)).data)


# --- knowledge base ----------------------------------------------------------------------


class ArticleOut(serializers.Serializer):
    title = serializers.CharField()
    slug = serializers.CharField()
    summary = serializers.CharField()
    content_type = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField(source="get_absolute_url")
    updated_at = serializers.DateTimeField()


class ArticleHitOut(ArticleOut):
    rank = serializers.FloatField(required=False)
    snippet = serializers.SerializerMethodField()

    def get_snippet(self, obj) -> str:
        return str(kb.snippet_html(getattr(obj, "headline", None) or obj.summary))


class ArticleDetailOut(ArticleOut):
    body = serializers.CharField()
    html = serializers.SerializerMethodField()

    def get_html(self, obj) -> str:
        return str(kb.render_markdown(obj.body))


class ArticleList(ListAPIView):
    """Published articles; with ?q= ranked by full-text match with highlighted snippets
    (``<mark>`` around matches, everything else escaped). ?type=faq|guide|policy filters."""

    permission_classes = [AllowAny, RequiresEntitlement]
    serializer_class = ArticleHitOut
    filter_backends: list = []

    def get_queryset(self):
        qs = Article.objects.published()
        kind = self.request.query_params.get("type")
        if kind in ArticleType.values:
            qs = qs.filter(content_type=kind)
        q = self.request.query_params.get("q", "")
        if q.strip():
            return kb.search_articles(q, queryset=qs)
        return qs.order_by("content_type", "title")


class ArticleDetail(APIView):
    permission_classes = [AllowAny, RequiresEntitlement]

    @extend_schema(
        tags=["help"], summary="A published help article", responses={200: ArticleDetailOut}
    )
    def get(self, request, slug):
        article = Article.objects.published().filter(slug=slug).first()
        if article is None:
            raise NotFound()
        return Response(ArticleDetailOut(article).data)


# --- help bot ----------------------------------------------------------------------------


class ChatIn(serializers.Serializer):
    message = StrictCharField(max_length=2000)
    conversation_id = serializers.IntegerField(required=False, allow_null=True)


class RateIn(serializers.Serializer):
    helpful = serializers.BooleanField()


CHAT_MESSAGE_OUT = inline_serializer(
    "ChatMessage",
    {
        "id": serializers.IntegerField(),
        "role": serializers.CharField(),
        "body": serializers.CharField(),
        "body_html": serializers.CharField(
            help_text="The bot's answer as sanitised HTML (its "
            "Markdown rendered); empty for the customer's "
            "own messages."
        ),
        "answered": serializers.BooleanField(allow_null=True),
        "helpful": serializers.BooleanField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "citations": inline_serializer(
            "ChatCitation",
            {
                "title": serializers.CharField(),
                "slug": serializers.CharField(),
                "url": serializers.CharField(),
                "passage": serializers.CharField(allow_null=True),
                "passage_html": serializers.CharField(allow_null=True),
            },
            many=True,
        ),
    },
)
CHAT_OUT = inline_serializer(
    "ChatAnswer",
    {
        "conversation_id": serializers.IntegerField(),
        "question": CHAT_MESSAGE_OUT,
        "answer": CHAT_MESSAGE_OUT,
        "handoff_available": serializers.BooleanField(),
        "handoff_url": serializers.CharField(),
    },
)


def chat_message_out(message, citations=None) -> dict:
    if citations is None:
        citations = [{"article": a, "passage": None} for a in message.cited_articles.all()]
    return {
        "id": message.pk,
        "role": message.role,
        "body": message.body,
        "body_html": str(kb.render_markdown(message.body)) if message.role == ChatRole.BOT else "",
        "answered": message.answered,
        "helpful": message.helpful,
        "created_at": message.created_at.isoformat(),
        "citations": [
            {
                "title": c["article"].title,
                "slug": c["article"].slug,
                "url": c["article"].get_absolute_url(),
                "passage": c["passage"],
                "passage_html": str(kb.render_markdown(c["passage"])) if c["passage"] else None,
            }
            for c in citations
        ],
    }


def _own_conversation(request, pk):
    conversation = selectors.customer_conversation(request.user, pk)
    if conversation is None:
        raise NotFound()
    return conversation


class Chat(APIView):
    @extend_schema(
        tags=["help bot"],
        summary="Ask the help bot",
        request=ChatIn,
        responses={
            201: CHAT_OUT,
            404: OpenApiResponse(
                ErrorSerializer, description="conversation_id is not one of yours."
            ),
        },
    )
    def post(self, request):
        data = ChatIn(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = None
        if data.validated_data.get("conversation_id"):
            conversation = _own_conversation(request, data.validated_data["conversation_id"])
        conversation, asked, answer = bot.ask(
            customer=request.user, message=data.validated_data["message"], conversation=conversation
        )
        return Response(
            {
                "conversation_id": conversation.pk,
                "question": chat_message_out(asked, []),
                "answer": chat_message_out(answer, answer.citations),
                "handoff_available": not answer.answered,
                "handoff_url": reverse("api:support-chat-handoff", args=[conversation.pk]),
            },
            status=status.HTTP_201_CREATED,
        )


class ChatHandoff(APIView):
    @extend_schema(
        tags=["help bot"],
        summary="Hand the conversation to a human (opens a ticket)",
        request=None,
        responses={201: TicketDetailOut},
    )
    def post(self, request, pk):
        conversation = _own_conversation(request, pk)
        ticket = bot.handoff(conversation=conversation, customer=request.user)
        ticket = selectors.customer_ticket(request.user, ticket.pk)
        return Response(TicketDetailOut(ticket).data, status=status.HTTP_201_CREATED)


class ChatRate(APIView):
    @extend_schema(
        tags=["help bot"],
        summary="Rate one of the bot's answers",
        request=RateIn,
        responses={200: CHAT_MESSAGE_OUT},
    )
    def post(self, request, pk, mid):
        conversation = _own_conversation(request, pk)
        data = RateIn(data=request.data)
        data.is_valid(raise_exception=True)
        message = bot.rate(
            conversation=conversation,
            message_id=mid,
            customer=request.user,
            helpful=data.validated_data["helpful"],
        )
        return Response(chat_message_out(message))
