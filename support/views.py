"""Customer pages (tickets, help-bot chat) and the public help centre.

The same services and selectors as the API. A ticket that is not the customer's answers 404.
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import entitlements
from core.api import DomainError
from core.system_config import get_config
from support import kb, selectors, services
from support.api import chat_message_out
from support.forms import ReplyForm, TicketForm
from support.models import Article, ArticleType, Conversation, TicketMessage
from support.related import clean_related

PAGE_SIZE = 20


def _thread_context(ticket, form) -> dict:
    return {
        "ticket": ticket,
        "thread": ticket.public_messages,
        "form": form,
        "reopen_days": get_config("support_reopen_window_days"),
    }


def _own_ticket_or_404(request, pk):
    ticket = selectors.customer_ticket(request.user, pk)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


@login_required
def ticket_list(request):
    page = Paginator(selectors.customer_tickets(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "support/ticket_list.html", {"page": page})


@login_required
def ticket_new(request):
    form = TicketForm(request.POST or None, request.FILES or None)
    suggestions = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "suggest" in request.POST:
            # "Check the help centre first": the same search the live suggestions use.
            suggestions = kb.with_snippets(list(kb.search_articles(data["subject"])[:5]))
        else:
            try:
                related = clean_related(customer=request.user, order_number=data["related_order"])
                ticket = services.open_ticket(
                    customer=request.user,
                    subject=data["subject"],
                    description=data["description"],
                    priority=data["priority"],
                    files=data["attachments"],
                    related=related,
                )
            except DomainError as exc:
                form.add_error(
                    exc.extra.get("field") or ("attachments" if "attach" in exc.code else None),
                    exc.message,
                )
            else:
                messages.success(
                    request, f"Ticket {ticket.number} opened. We will reply by e-mail."
                )
                return redirect("support:ticket", pk=ticket.pk)
    return render(
        request,
        "support/ticket_new.html",
        {
            "form": form,
            "suggestions": suggestions,
            "searched": "suggest" in request.POST,
            # High priority comes with priority support: say so beside the field.
            "priority_upgrade": entitlements.upgrade_prompt(
                request.user, services.PRIORITY_SUPPORT
            ),
        },
    )


@login_required
def ticket_detail(request, pk):
    ticket = _own_ticket_or_404(request, pk)
    return render(request, "support/ticket_detail.html", _thread_context(ticket, ReplyForm()))


@login_required
@require_POST
def ticket_reply(request, pk):
    ticket = _own_ticket_or_404(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.reply(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Reply sent.")
            return redirect("support:ticket", pk=ticket.pk)
    return render(request, "support/ticket_detail.html", _thread_context(ticket, form), status=400)


@login_required
def ticket_close(request, pk):
    """GET asks for confirmation; POST closes."""
    ticket = _own_ticket_or_404(request, pk)
    if request.method == "POST":
        try:
            services.close(ticket=ticket, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Ticket {ticket.number} closed.")
        return redirect("support:ticket", pk=ticket.pk)
    return render(request, "support/ticket_close.html", {"ticket": ticket})


@login_required
def attachment(request, pk, file_id):
    """Download an attachment: the ticket's customer (public messages only) or staff."""
    qs = TicketMessage.objects.filter(ticket_id=pk, attachments__pk=file_id)
    if not services.is_staff(request.user):
        qs = qs.public().filter(ticket__customer=request.user)
    message = qs.first()
    if message is None:
        raise Http404("No such file.")
    stored = message.attachments.get(pk=file_id)
    if not stored.path or not default_storage.exists(stored.path):
        raise Http404("The file is no longer available.")
    return FileResponse(
        default_storage.open(stored.path, "rb"),
        as_attachment=True,
        filename=stored.name,
        content_type=stored.content_type or None,
    )


CHAT_KEPT_FOR = timedelta(days=1)


@login_required
def chat(request):
    """The help bot. The customer's conversation of the last day that was not handed to a
    human is shown again (a reload keeps it); ``?new=1`` starts afresh."""
    conversation = None
    if not request.GET.get("new"):
        conversation = (
            Conversation.objects.filter(
                customer=request.user,
                handed_off_ticket__isnull=True,
                created_at__gte=timezone.now() - CHAT_KEPT_FOR,
            )
            .order_by("-created_at")
            .first()
        )
    history = {"conversation_id": None, "messages": []}
    if conversation is not None:
        conversation = selectors.customer_conversation(request.user, conversation.pk)
        history = {
            "conversation_id": conversation.pk,
            "messages": [
                chat_message_out(m) for m in conversation.messages.order_by("created_at", "id")
            ],
        }
    return render(request, "support/chat.html", {"history": history})


# --- help centre (public) ----------------------------------------------------------------


def help_index(request):
    articles = Article.objects.published()
    sections = [
        {"type": kind, "label": label, "articles": [a for a in articles if a.content_type == kind]}
        for kind, label in ArticleType.choices
    ]
    return render(
        request, "support/help_index.html", {"sections": sections, "has_articles": bool(articles)}
    )


def help_search(request):
    q = request.GET.get("q", "").strip()[: kb.MAX_QUERY_CHARS]
    page = Paginator(kb.search_articles(q), PAGE_SIZE).get_page(request.GET.get("page"))
    kb.with_snippets(page.object_list)
    return render(request, "support/help_search.html", {"q": q, "page": page})


def help_article(request, slug):
    article = Article.objects.published().filter(slug=slug).first()
    if article is None:
        raise Http404("No such article.")
    return render(
        request,
        "support/help_article.html",
        {"article": article, "html": kb.render_markdown(article.body)},
    )
