import pytest

from support.factories import ArticleFactory, ConversationFactory
from support.models import ChatMessage, Conversation, Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/chat/"


@pytest.fixture
def kb_articles():
    ArticleFactory(
        title="How do credits expire?",
        slug="credit-expiry",
        tags=["credits"],
        body="Credits are drawn from the lot that expires first.\n\n"
        "Plan credits expire at the end of each billing period. Credit packs expire "
        "twelve months after purchase.\n\nYour balance page shows upcoming expiries.",
    )
    ArticleFactory(
        title="Cancelling your subscription",
        slug="cancel",
        body="You can cancel at any time from the billing page.",
    )


def test_bot_answers_with_the_best_passage_and_a_link(customer_api, kb_articles, customer):
    response = customer_api.post(URL, {"message": "When do my credit packs expire?"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    answer = body["answer"]
    assert answer["role"] == "bot" and answer["answered"] is True
    assert body["handoff_available"] is False
    first = answer["citations"][0]
    assert first["url"] == "/help/credit-expiry/"
    assert first["passage"].startswith("Plan credits expire at the end")
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.customer == customer
    bot = conversation.messages.get(role="bot")
    assert list(bot.cited_articles.values_list("slug", flat=True))[0] == "credit-expiry"


def test_bot_says_it_does_not_know_and_offers_a_handoff(customer_api, kb_articles):
    response = customer_api.post(URL, {"message": "Is the moon made of cheese?"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["answer"]["answered"] is False
    assert body["answer"]["citations"] == []
    assert "could not find" in body["answer"]["body"]
    assert body["handoff_available"] is True


def test_handoff_opens_a_ticket_with_the_transcript_once(customer_api, kb_articles, customer):
    first = customer_api.post(URL, {"message": "My invoice has a zebra on it"}, format="json")
    cid = first.json()["conversation_id"]
    customer_api.post(URL, {"message": "Please help", "conversation_id": cid}, format="json")

    response = customer_api.post(f"{URL}{cid}/handoff/")
    assert response.status_code == 201, response.json()
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.customer == customer
    assert ticket.subject == "Chat: My invoice has a zebra on it"
    assert "Please help" in ticket.description and "Help bot" in ticket.description
    again = customer_api.post(f"{URL}{cid}/handoff/")
    assert again.json()["id"] == ticket.pk
    assert Ticket.objects.count() == 1
    more = customer_api.post(URL, {"message": "hello?", "conversation_id": cid}, format="json")
    assert more.status_code == 409
    assert more.json()["code"] == "conversation_handed_off"


def test_rating_an_answer(customer_api, kb_articles):
    response = customer_api.post(URL, {"message": "cancel subscription"}, format="json")
    cid, mid = response.json()["conversation_id"], response.json()["answer"]["id"]
    rated = customer_api.post(f"{URL}{cid}/messages/{mid}/rate/", {"helpful": True}, format="json")
    assert rated.status_code == 200
    assert rated.json()["helpful"] is True
    assert ChatMessage.objects.get(pk=mid).helpful is True
    assert Conversation.objects.get(pk=cid).resolved is True
    question_id = response.json()["question"]["id"]
    own_question = customer_api.post(
        f"{URL}{cid}/messages/{question_id}/rate/", {"helpful": True}, format="json"
    )
    assert own_question.status_code == 404
    bad = customer_api.post(f"{URL}{cid}/messages/{mid}/rate/", {}, format="json")
    assert bad.status_code == 400


def test_another_customers_conversation_is_404_everywhere(other_customer_api, customer):
    conversation = ConversationFactory(customer=customer)
    message = ChatMessage.objects.create(
        conversation=conversation, role="bot", body="x", answered=True
    )
    cid = conversation.pk
    assert (
        other_customer_api.post(
            URL, {"message": "hi", "conversation_id": cid}, format="json"
        ).status_code
        == 404
    )
    assert other_customer_api.post(f"{URL}{cid}/handoff/").status_code == 404
    assert (
        other_customer_api.post(
            f"{URL}{cid}/messages/{message.pk}/rate/", {"helpful": False}, format="json"
        ).status_code
        == 404
    )
    assert conversation.messages.count() == 1
    assert not Ticket.objects.exists()
    message.refresh_from_db()
    assert message.helpful is None


def test_chat_requires_login(api_client):
    assert api_client.post(URL, {"message": "hi"}, format="json").status_code in (401, 403)
