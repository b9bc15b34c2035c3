"""The audit and support rows of the seed_history simulation (History's audit trail, tickets
and help-bot conversations), written as the product would write them."""

import random
from datetime import datetime, timedelta
from typing import Any

from analytics.seed_history.inputs import Customer
from analytics.seed_history.rows import NULL, Ids, jsonb, opt, stamp, text

IPS = [f"203.0.113.{n}" for n in range(1, 60)] + [f"198.51.100.{n}" for n in range(1, 60)]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
]
TICKETS = [
    ("Invoice question", "The amount on my last invoice is not what I expected."),
    ("Credits missing", "I bought a credit pack but my balance did not change right away."),
    ("Card declined", "My card was declined when I tried to renew."),
    ("Refund request", "A video generation failed halfway; can I get my credits back?"),
    ("Cannot export", "The export of my data takes a long time to start."),
    ("Feature request", "Could the usage chart show more than one year?"),
]
REPLIES = [
    "Thanks for writing in; I am looking into it now.",
    "This is fixed on our side; please try again.",
    "I have added the credits back to your balance.",
]
QUESTIONS = [
    ("How do I change my plan?", "Go to Billing, then Change plan.", True),
    (
        "Do unused credits roll over?",
        "Plan credits expire at the period end; credit packs never expire.",
        True,
    ),
    (
        "Can I get an invoice with my VAT number?",
        "I could not find an answer to that; a person from support will reply.",
        False,
    ),
    (
        "Why was I charged twice?",
        "I could not find an answer to that; a person from support will reply.",
        False,
    ),
]


class SupportRows:
    """Mixed into History: uses its ``rng``, ``buffers``, ``staff``, ``end`` and id sources."""

    # Set by History.__init__.
    rng: random.Random
    buffers: dict[str, list[str]]
    staff: list[tuple[Any, ...]]
    end: datetime
    ticket_id: Ids
    conversation_id: Ids

    def audit(
        self,
        actor_id,
        actor_email,
        action,
        resource_type,
        resource_id,
        moment,
        old=None,
        new=None,
        context=None,
    ) -> None:
        rng = self.rng
        self.buffers["accounts_auditlog"].append(
            "\t".join(
                [
                    opt(actor_id),
                    text(actor_email or ""),
                    action,
                    resource_type,
                    str(resource_id),
                    jsonb(old or {}),
                    jsonb(new or {}),
                    jsonb(context or {}),
                    rng.choice(IPS),
                    rng.choice(AGENTS),
                    moment.isoformat(),
                ]
            )
            + "\n"
        )

    def ticket(self, customer: Customer, moment: datetime) -> None:
        rng = self.rng
        ticket_id = self.ticket_id()
        subject, description = rng.choice(TICKETS)
        agent = rng.choice(self.staff) if self.staff else None
        first = moment + timedelta(minutes=rng.randrange(10, 600))
        resolved = first + timedelta(hours=rng.randrange(1, 48))
        done = resolved < self.end
        closed = resolved + timedelta(days=7)
        status = ("CLOSED" if closed < self.end else "RESOLVED") if done else "IN_PROGRESS"
        self.buffers["support_ticket"].append(
            "\t".join(
                [
                    str(ticket_id),
                    moment.isoformat(),
                    (resolved if done else first).isoformat(),
                    f"T{ticket_id:06d}",
                    str(customer.user_id),
                    opt(agent and agent[0]),
                    subject,
                    description,
                    status,
                    rng.choice(["LOW", "MEDIUM", "MEDIUM", "HIGH"]),
                    "{}",
                    stamp(first),
                    stamp(resolved if done else None),
                    stamp(closed if status == "CLOSED" else None),
                    stamp(moment + timedelta(hours=8)),
                    stamp(moment + timedelta(days=3)),
                ]
            )
            + "\n"
        )
        messages = self.buffers["support_ticketmessage"]
        messages.append(
            f"{moment.isoformat()}\t{moment.isoformat()}\t{ticket_id}\t"
            f"{customer.user_id}\t{description}\tf\n"
        )
        if agent:
            messages.append(
                f"{first.isoformat()}\t{first.isoformat()}\t{ticket_id}\t"
                f"{agent[0]}\t{rng.choice(REPLIES)}\tf\n"
            )
            if rng.random() < 0.3:
                messages.append(
                    f"{first.isoformat()}\t{first.isoformat()}\t{ticket_id}\t"
                    f"{agent[0]}\tChecked the ledger; nothing unusual.\tt\n"
                )
        self.audit(
            customer.user_id,
            customer.email,
            "CREATE",
            "support.Ticket",
            ticket_id,
            moment,
            new={"status": "OPEN", "subject": subject},
        )

    def conversation(self, customer: Customer, moment: datetime) -> None:
        rng = self.rng
        conversation_id = self.conversation_id()
        question, answer, answered = rng.choice(QUESTIONS)
        later = moment + timedelta(seconds=3)
        self.buffers["support_conversation"].append(
            f"{conversation_id}\t{moment.isoformat()}\t{later.isoformat()}\t"
            f"{customer.user_id}\t{'t' if answered else 'f'}\t"
            f"{NULL if answered else later.isoformat()}\n"
        )
        helpful = rng.choice(["t", "f", NULL]) if answered else NULL
        chat = self.buffers["support_chatmessage"]
        chat.append(
            f"{moment.isoformat()}\t{moment.isoformat()}\t{conversation_id}\tcustomer\t"
            f"{question}\t{NULL}\t{NULL}\t{NULL}\n"
        )
        chat.append(
            f"{later.isoformat()}\t{later.isoformat()}\t{conversation_id}\tbot\t"
            f"{answer}\t{'t' if answered else 'f'}\t{helpful}\t"
            f"{NULL if helpful == NULL else later.isoformat()}\n"
        )
