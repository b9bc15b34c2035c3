"""Demo questions the help bot could not answer over the last two weeks, rolled up, so the
console home's "Top unanswered questions" card has something to show after ``make run``
(a ``seed_demo`` step, after the analytics history). Safe to run again: the questions are
asked once, and the days are rolled up again."""

from datetime import UTC, datetime, time, timedelta

from django.db import transaction

from accounts.models import User
from accounts.seed_steps import SeedContext
from analytics.rollup import rollup_day
from support.models import ChatMessage, ChatRole, Conversation

DAYS = 14
CUSTOMERS = ("alice@demo.example", "bob@demo.example")
# (how the customers typed it, on every n-th day): the variants of one question differ in
# case and spaces only, so the rollup counts them together.
QUESTIONS = (
    (("Do you support SAML single sign-on?", "do you support SAML single sign-on? "), 1),
    (("Can I pay with PayPal?", "can i pay with paypal?"), 2),
    (("Is there a discount for non-profits?",), 3),
    (("How do I export my invoices to Xero?",), 4),
    (("Can I move my account to another region?",), 7),
)
NO_ANSWER = "I could not find an answer to that in our help centre."


def seed_unanswered(context: SeedContext) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(DAYS, 0, -1)]
    customers = list(User.objects.filter(email__in=CUSTOMERS).order_by("email"))
    asked = {text for variants, _ in QUESTIONS for text in variants}
    if customers and not ChatMessage.objects.filter(body__in=asked).exists():
        with transaction.atomic():
            for offset, day in enumerate(days):
                for index, (variants, every) in enumerate(QUESTIONS):
                    if offset % every:
                        continue
                    when = datetime.combine(day, time(9 + index, 15), tzinfo=UTC)
                    customer = customers[(offset + index) % len(customers)]
                    _ask(customer, variants[offset % len(variants)], when)
    for day in days:
        rollup_day(day, ["bot_quality"])
    context.stdout.write(f"→ help-bot questions: the last {DAYS} days rolled up")


def _ask(customer: User, question: str, when: datetime) -> None:
    conversation = Conversation.objects.create(customer=customer)
    ids = [
        ChatMessage.objects.create(
            conversation=conversation, role=ChatRole.CUSTOMER, body=question
        ).pk,
        ChatMessage.objects.create(
            conversation=conversation, role=ChatRole.BOT, body=NO_ANSWER, answered=False
        ).pk,
    ]
    ChatMessage.objects.filter(pk__in=ids).update(created_at=when)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when)
