"""Help-bot insights in the staff console: ratings per article (most rated down first), the
answers rated down, and the questions the bot could not answer (each can become a draft
article)."""

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyAdmin
from helpbot_insights import services
from helpbot_insights.models import ArticleFeedback, RatedDownAnswer, UnansweredQuestion
from support.models import ChatMessage, ChatRole

PERIODS = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("all", "All time"),
]


class PeriodFilter(admin.SimpleListFilter):
    """The window the counts cover (the answers' time); 30 days unless chosen."""

    title = "answers from"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        return PERIODS

    def choices(self, changelist):
        current = self.value() or "30"
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "display": label,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
            }

    def queryset(self, request, queryset):
        return queryset


def _since(request):
    period = request.GET.get("period", "30")
    return (
        None
        if period == "all" or not period.isdigit()
        else timezone.now() - timedelta(days=int(period))
    )


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "status",
        "cited",
        "helpful",
        "not_helpful",
        "helpful_rate",
        "rated_down_answers",
    ]
    list_filter = [PeriodFilter]
    search_fields = ["title"]
    list_per_page = 50

    def get_queryset(self, request):
        through = ChatMessage.cited_articles.through
        answers = through.objects.filter(article_id=OuterRef("pk"), chatmessage__role=ChatRole.BOT)
        since = _since(request)
        if since is not None:
            answers = answers.filter(chatmessage__created_at__gte=since)

        def count(extra: Q):
            return Subquery(
                answers.filter(extra)
                .order_by()
                .values("article_id")
                .annotate(n=Count("pk"))
                .values("n")[:1],
                output_field=IntegerField(),
            )

        return (
            super()
            .get_queryset(request)
            .annotate(
                cited_n=count(Q()),
                up_n=count(Q(chatmessage__helpful=True)),
                down_n=count(Q(chatmessage__helpful=False)),
            )
            .filter(cited_n__gt=0)
            .order_by("-down_n", "-cited_n", "title")
        )

    @admin.display(description="cited in answers", ordering="cited_n")
    def cited(self, obj):
        return obj.cited_n or 0

    @admin.display(description="rated helpful", ordering="up_n")
    def helpful(self, obj):
        return obj.up_n or 0

    @admin.display(description="rated not helpful", ordering="down_n")
    def not_helpful(self, obj):
        return obj.down_n or 0

    @admin.display(description="helpful rate")
    def helpful_rate(self, obj):
        rated = (obj.up_n or 0) + (obj.down_n or 0)
        return f"{round(100 * (obj.up_n or 0) / rated)}% of {rated}" if rated else "no ratings"

    @admin.display(description="")
    def rated_down_answers(self, obj):
        if not obj.down_n:
            return ""
        url = reverse("admin:helpbot_insights_rateddownanswer_changelist")
        return format_html(
            '<a href="{}?cited_articles__id__exact={}">See the answers</a>', url, obj.pk
        )


class _QuestionMixin:
    def get_queryset(self, request):
        question = (
            ChatMessage.objects.filter(
                conversation_id=OuterRef("conversation_id"),
                role=ChatRole.CUSTOMER,
                pk__lt=OuterRef("pk"),
            )
            .order_by("-pk")
            .values("body")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(question=Subquery(question))
            .select_related("conversation__customer")
        )

    @admin.display(description="question")
    def question_text(self, obj):
        return (obj.question or "")[:200]

    @admin.display(description="customer")
    def customer(self, obj):
        return obj.conversation.customer.email


@admin.register(RatedDownAnswer)
class RatedDownAnswerAdmin(_QuestionMixin, ReadOnlyAdmin):
    list_display = ["question_text", "answer", "articles", "customer", "rated_at"]
    list_filter = ["cited_articles"]
    ordering = ["-rated_at", "-id"]
    fields = ("question_text", "body", "articles", "customer", "rated_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(role=ChatRole.BOT, helpful=False)
            .prefetch_related("cited_articles")
        )

    @admin.display(description="answer")
    def answer(self, obj):
        return obj.body[:160]

    @admin.display(description="articles cited")
    def articles(self, obj):
        return (
            format_html_join(", ", "{}", ((a.title,) for a in obj.cited_articles.all())) or "none"
        )


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(_QuestionMixin, ReadOnlyAdmin):
    list_display = ["question_text", "customer", "created_at", "handed_off"]
    ordering = ["-created_at", "-id"]
    fields = ("question_text", "customer", "created_at", "handed_off")
    readonly_fields = fields
    actions = ["draft_article"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(role=ChatRole.BOT, answered=False)

    @admin.display(description="handed to support", boolean=True)
    def handed_off(self, obj):
        return obj.conversation.handed_off_ticket_id is not None

    policy_urls = {"helpbot_insights_unansweredquestion_draft": "support.article.draft"}

    def get_urls(self):
        return [
            path(
                "<int:answer_id>/draft/",
                self.admin_site.admin_view(self.draft_view),
                name="helpbot_insights_unansweredquestion_draft",
            )
        ] + super().get_urls()

    @policy_action(
        "support.article.draft", description="Draft a help article from each selected question"
    )
    def draft_article(self, request, queryset):
        for answer in queryset:
            self._draft(request, answer)

    def _draft(self, request, answer):
        try:
            article = services.draft_article(answer=answer, actor=request.user)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        url = reverse("admin:support_article_change", args=[article.pk])
        self.message_user(
            request,
            format_html(
                'Draft article <a href="{}">{}</a> created: write the answer and publish it.',
                url,
                article.title,
            ),
            messages.SUCCESS,
        )
        return article

    def draft_view(self, request, answer_id):
        """One question (the console's "Top unanswered questions" card links here): what
        the customer asked, then the same draft as the list's action, after a POST."""
        answer = get_object_or_404(self.get_queryset(request), pk=answer_id)
        if request.method == "POST":
            article = self._draft(request, answer)
            if article is None:
                return redirect("admin:helpbot_insights_unansweredquestion_changelist")
            return redirect("admin:support_article_change", article.pk)
        return TemplateResponse(
            request,
            "helpbot_insights/draft_article.html",
            {
                **self.admin_site.each_context(request),
                "title": "Draft a help article from this question?",
                "opts": self.model._meta,
                "answer": answer,
            },
        )
