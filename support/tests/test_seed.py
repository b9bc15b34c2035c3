import pytest
from django.core.management import call_command

from accounts.models import User
from support import bot
from support.models import Article, Ticket, TicketStatus

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_covers_every_status(customer, support_agent):
    args = ["--customer-email", customer.email, "--staff-email", support_agent.email]
    call_command("seed_support", *args)
    call_command("seed_support", *args)
    assert Article.objects.published().count() >= 20
    tickets = Ticket.objects.filter(customer=customer)
    assert tickets.count() == 5
    assert set(tickets.values_list("status", flat=True)) == set(TicketStatus.values)
    for ticket in tickets:
        assert ticket.messages.public().count() >= 2


def test_seed_creates_demo_users_with_unusable_passwords_when_none_exist():
    call_command("seed_support")
    demo = User.objects.get(email="customer@support-demo.example")
    assert not demo.has_usable_password()
    assert Ticket.objects.filter(customer=demo).count() == 5


@pytest.mark.parametrize(
    "question,slug",
    [
        ("How do I cancel my subscription?", "cancel-subscription"),
        ("When do my credits expire?", "credit-expiry"),
        ("I want a refund for my order", "request-refund"),
        ("how to revoke an api key", "api-keys"),
        ("where can I download my invoices", "download-invoices"),
        ("delete my account", "delete-account"),
        ("what are your support hours", "support-hours-and-response-times"),
    ],
)
def test_the_bot_answers_real_questions_from_the_seeded_help_centre(question, slug):
    call_command("seed_support", "--articles-only")
    citations = bot.find_answer(question)
    assert citations, question
    assert slug in [c["article"].slug for c in citations]


@pytest.mark.parametrize(
    "question", ["Is the moon made of cheese?", "asdfgh qwerty", "recipe for banana bread"]
)
def test_the_bot_does_not_pretend_to_know(question):
    call_command("seed_support", "--articles-only")
    assert bot.find_answer(question) == []
