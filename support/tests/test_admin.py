import pytest
from django.core import mail

from core.models import AuditLog
from support import kb, services
from support.errors import InvalidAssignee, MergeRefused
from support.factories import ArticleFactory, ChatMessageFactory
from support.models import Article, Ticket, TicketMessage, TicketStatus

pytestmark = pytest.mark.django_db

LIST = "/admin/support/ticket/"


@pytest.fixture
def agent_client(client, support_agent):
    client.force_login(support_agent)
    return client


def test_queue_filters(agent_client, open_ticket, support_agent, admin_user):
    mine = open_ticket(subject="Mine to do")
    services.assign(ticket=mine, assignee=support_agent, actor=support_agent)
    waiting = open_ticket(subject="Waiting for them")
    services.assign(ticket=waiting, assignee=admin_user, actor=admin_user)
    services.change_status(ticket=waiting, status="WAITING_ON_CUSTOMER", actor=admin_user)
    open_ticket(subject="Nobody has it")

    def subjects(query):
        response = agent_client.get(LIST + query)
        assert response.status_code == 200
        html = response.content.decode()
        return {s for s in ("Mine to do", "Waiting for them", "Nobody has it") if s in html}

    assert subjects("") == {"Mine to do", "Waiting for them", "Nobody has it"}
    assert subjects("?assignee=none") == {"Nobody has it"}
    assert subjects("?assignee=me") == {"Mine to do"}
    assert subjects(f"?assignee={admin_user.pk}") == {"Waiting for them"}
    assert subjects("?queue=waiting") == {"Waiting for them"}
    assert subjects("?status__exact=WAITING_ON_CUSTOMER") == {"Waiting for them"}
    assert subjects("?priority__exact=HIGH") == set()


def test_ticket_page_shows_thread_with_notes_marked_and_the_billing_panel(
    agent_client, ticket, support_agent
):
    services.add_internal_note(ticket=ticket, author=support_agent, body="VIP, be nice")
    response = agent_client.get(f"{LIST}{ticket.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "VIP, be nice" in html and "internal note" in html
    assert "Billing picture for customer@example.com" in html
    assert "Credits: balance 0" in html


def test_reply_note_status_priority_and_assign_from_the_ticket_page(
    agent_client, ticket, support_agent, django_capture_on_commit_callbacks
):
    act = f"{LIST}{ticket.pk}/act/"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(act, {"operation": "reply", "body": "Refund on its way"})
    agent_client.post(act, {"operation": "note", "body": "Refunded via Stripe"})
    agent_client.post(act, {"operation": "status", "status": "RESOLVED"})
    agent_client.post(act, {"operation": "priority", "priority": "HIGH"})
    agent_client.post(act, {"operation": "assign", "assignee": support_agent.pk})
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.priority == "HIGH"
    assert ticket.assignee == support_agent
    assert ticket.messages.filter(internal=True, body="Refunded via Stripe").exists()
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]


def test_assigning_to_a_customer_is_refused(agent_client, ticket, customer):
    response = agent_client.post(
        f"{LIST}{ticket.pk}/act/", {"operation": "assign", "assignee": customer.pk}, follow=True
    )
    assert "fill in the form correctly" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_assign_service_refuses_non_staff(ticket, customer, support_agent):
    with pytest.raises(InvalidAssignee):
        services.assign(ticket=ticket, assignee=customer, actor=support_agent)


def test_assign_action_with_an_agent_picker(agent_client, open_ticket, admin_user):
    a, b = open_ticket(), open_ticket()
    page = agent_client.post(LIST, {"action": "assign_to_agent", "_selected_action": [a.pk, b.pk]})
    assert page.status_code == 200
    assert "Assign 2 ticket(s)" in page.content.decode()
    agent_client.post(
        LIST,
        {"action": "assign_to_agent", "_selected_action": [a.pk, b.pk], "agent": admin_user.pk},
    )
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {admin_user.pk}


def test_merge_action_asks_for_confirmation_then_merges(agent_client, open_ticket, customer):
    target = open_ticket(subject="Original")
    duplicate = open_ticket(subject="Duplicate", description="Same problem again")
    confirm = agent_client.post(
        LIST, {"action": "merge_tickets", "_selected_action": [target.pk, duplicate.pk]}
    )
    assert "Yes, merge them" in confirm.content.decode()
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.OPEN  # nothing happened yet

    agent_client.post(
        LIST,
        {
            "action": "merge_tickets",
            "confirm": "yes",
            "target": target.pk,
            "_selected_action": [target.pk, duplicate.pk],
        },
    )
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.CLOSED
    assert duplicate.merged_into == target
    assert target.messages.filter(body="Same problem again").exists()
    note = duplicate.messages.public().get()
    assert target.number in note.body


def test_merge_refuses_different_customers(open_ticket, other_customer, support_agent):
    mine = open_ticket()
    theirs = open_ticket(customer=other_customer)
    with pytest.raises(MergeRefused):
        services.merge(source=theirs, target=mine, actor=support_agent)
    assert TicketMessage.objects.filter(ticket=mine).count() == 1
    theirs.refresh_from_db()
    assert theirs.status == TicketStatus.OPEN


def test_article_admin_preview_is_sanitised(agent_client):
    article = ArticleFactory(body="**Bold** <script>alert(1)</script>")
    html = agent_client.get(f"/admin/support/article/{article.pk}/change/").content.decode()
    assert "<strong>Bold</strong>" in html
    assert "<script>alert(1)</script>" not in html


def test_conversations_in_admin(agent_client):
    message = ChatMessageFactory(body="Answer about invoices")
    assert agent_client.get("/admin/support/conversation/").status_code == 200
    page = agent_client.get(f"/admin/support/conversation/{message.conversation_id}/change/")
    assert "Answer about invoices" in page.content.decode()


def test_customers_cannot_use_the_staff_actions(customer_client, ticket):
    response = customer_client.post(
        f"{LIST}{ticket.pk}/act/", {"operation": "status", "status": "RESOLVED"}
    )
    assert response.status_code == 302 and "/admin/login/" in response.url
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_publishing_an_article_in_the_admin_is_audited_and_searchable(agent_client):
    response = agent_client.post(
        "/admin/support/article/add/",
        {
            "title": "Pausing a subscription",
            "slug": "pause",
            "summary": "",
            "content_type": "guide",
            "status": "published",
            "tags": "pause,subscriptions",
            "body": "You can pause billing for up to three months.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get(slug="pause")
    assert article.published_at is not None
    assert article.tags == ["pause", "subscriptions"]
    assert AuditLog.objects.filter(
        resource_type="support.Article", resource_id=str(article.pk), action="CREATE"
    ).exists()
    assert [a.slug for a in kb.search_articles("pause")] == ["pause"]
