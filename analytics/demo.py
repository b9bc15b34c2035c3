"""Twelve months of demo history for the dashboard (``manage.py seed_analytics``).

Customers join (more each month), subscribe to the seeded paid plans (some after a trial,
some yearly), renew monthly or yearly (one Payment per renewal), churn, come back or add a
second plan; some move to another plan in place (up or down, same interval: a PLAN_CHANGED
event on billing's timeline, in billing's payload shape, so MRR movements show expansion and
contraction); a few payments are refunded; subscribers use credits every week; tickets and
help-bot chats arrive every day. Everything is backdated, which only demo history may do.

Deterministic (seeded ``random.Random`` generators) and idempotent: the demo customers'
e-mail domain is the marker, so a second run adds nothing.

The subscription timeline is append-only too and stamps ``created_at`` itself, so the demo's
plan-change events are inserted with their moment in one INSERT. The credits ledger is
append-only and stamps its rows itself too, so the backdated credits history is written by
``analytics.demo_ledger`` with the same rules the credits services keep.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from accounts.models import Role, User
from analytics import demo_ledger
from billing.models import (
    BillingSource,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundReason,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from catalog.models import Plan, Price
from credits.models import (
    FeatureCost,
)
from support.models import ChatMessage, ChatRole, Conversation, Ticket, TicketPriority, TicketStatus

MARKER_DOMAIN = "analytics-demo.example"
SEED = 20261122
DAYS = 365
CUSTOMERS = 150
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jun",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST_NAMES = [
    "Nguyen",
    "Smith",
    "Okafor",
    "Garcia",
    "Kim",
    "Rossi",
    "Dubois",
    "Novak",
    "Haddad",
    "Silva",
]


@dataclass
class Stats:
    customers: int = 0
    subscriptions: int = 0
    plan_changes: int = 0
    payments: int = 0
    refunds: int = 0
    ledger_rows: int = 0
    tickets: int = 0
    conversations: int = 0
    notes: list[str] = field(default_factory=list)


def already_seeded() -> bool:
    return User.all_objects.filter(email__endswith="@" + MARKER_DOMAIN).exists()


def _moment(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randrange(7, 22), rng.randrange(60)), tzinfo=UTC)


def _backdate(model, pk_to_when: dict, field_name: str = "created_at") -> None:
    """Set ``field_name`` of each row to its moment, in one UPDATE."""
    if not pk_to_when:
        return
    query = sql.SQL(
        "UPDATE {table} SET {column} = v.at "
        "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE {table}.id = v.id"
    ).format(
        table=sql.Identifier(model._meta.db_table),
        column=sql.Identifier(model._meta.get_field(field_name).column),
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [list(pk_to_when), list(pk_to_when.values())])


def seed(*, today: date | None = None) -> Stats:
    """Create the history (once). Returns what was created."""
    today = today or timezone.now().date()
    rng = random.Random(SEED)
    stats = Stats()
    first_day = today - timedelta(days=DAYS)
    with transaction.atomic():
        customers = _customers(rng, first_day, stats)
        subs = _subscriptions(rng, customers, today, stats)
        _payments(rng, subs, today, stats)
        _credits(rng, subs, today, stats)
        _support(rng, customers, first_day, today, stats)
    return stats


def _customers(rng, first_day: date, stats: Stats) -> list:
    users = []
    joined = {}
    for n in range(CUSTOMERS):
        # Growth: later days are likelier (square-root spread towards today).
        offset = int(DAYS * (rng.random() ** 0.6))
        join = first_day + timedelta(days=min(offset, DAYS - 1))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user = User.objects.create_user(
            email=f"{first.lower()}.{last.lower()}.{n:03d}@{MARKER_DOMAIN}",
            password=None,
            first_name=first,
            last_name=last,
            role=Role.CUSTOMER,
        )
        joined[user.pk] = _moment(rng, join)
        user.joined = joined[user.pk]
        users.append(user)
    _backdate(User, joined)
    stats.customers = len(users)
    return users


@dataclass
class DemoSub:
    sub: Subscription
    price: Price
    start: datetime  # paying from (after any trial)
    end: datetime | None  # ended (canceled) at, or None
    # An in-place plan change: (moment, new price). ``price`` is the price before it.
    change: tuple[datetime, Price] | None = None

    def price_at(self, moment: datetime) -> Price:
        if self.change and moment >= self.change[0]:
            return self.change[1]
        return self.price


def paid_plans():
    return list(
        Plan.objects.filter(active=True, monthly_price__unit_amount__gt=0)
        .select_related("monthly_price", "yearly_price")
        .order_by("sort_order", "id")
    )


def _subscriptions(rng, customers, today: date, stats: Stats) -> list[DemoSub]:
    plans = paid_plans()
    if not plans:
        stats.notes.append("no paid catalog plans (run seed_catalog): no subscriptions")
        return []
    now = datetime.combine(today, time(0), tzinfo=UTC)
    made: list[DemoSub] = []

    def create(user, created: datetime, *, second: bool = False):
        plan = rng.choice(plans[1:] if second and len(plans) > 1 else plans)
        yearly = plan.yearly_price_id and rng.random() < 0.25
        price = plan.yearly_price if yearly else plan.monthly_price
        trial = (not second) and rng.random() < 0.3
        start = created + timedelta(days=14) if trial else created
        # Monthly churn hazard ~4 %: draw the lifetime in days.
        life = int(rng.expovariate(0.04 / 30))
        end = start + timedelta(days=life, hours=rng.randrange(24))
        if yearly:  # yearly subscribers leave at a renewal
            end = start + timedelta(days=365 * max(1, round(life / 365)))
        ended = end < now
        status = (
            SubscriptionStatus.CANCELED
            if ended
            else SubscriptionStatus.TRIALING
            if start > now
            else SubscriptionStatus.ACTIVE
        )
        sub = Subscription.objects.create(
            user=user,
            plan=plan,
            price=price,
            quantity=1 if rng.random() < 0.9 else 3,
            status=status,
            billing_source=BillingSource.MANUAL,
            trial_start=created if trial else None,
            trial_end=start if trial else None,
            canceled_at=end if ended else None,
            current_period_start=start,
            metadata={"demo": "analytics"},
        )
        made.append(DemoSub(sub, price, start, end if ended else None))
        return made[-1]

    for user in customers:
        if rng.random() > 0.7:
            continue
        first = create(user, user.joined + timedelta(hours=rng.randrange(1, 72)))
        if first.end and rng.random() < 0.15:  # comes back later
            back = first.end + timedelta(days=rng.randrange(10, 90))
            if back < now:
                create(user, back)
        elif not first.end and rng.random() < 0.12:  # adds a second plan: expansion
            extra = first.start + timedelta(days=rng.randrange(20, 200))
            if extra < now:
                create(user, extra, second=True)
    _backdate(Subscription, {d.sub.pk: min(d.sub.trial_start or d.start, d.start) for d in made})
    stats.subscriptions = len(made)
    stats.plan_changes = _plan_changes(plans, made, now)
    return made


# Share of subscriptions paying for at least two months that change plan once, in place.
PLAN_CHANGE_SHARE = 0.3


def _plan_changes(plans, made: list[DemoSub], now: datetime) -> int:
    """Move some subscriptions to another plan's price of the same interval and currency, at
    a moment inside their paying life, as billing's ``change_plan`` would: the row keeps the
    new plan and price, and one PLAN_CHANGED event holds the plan and price before it.

    A random generator of its own, so the rest of the history (payments, credits, support)
    is drawn exactly as without plan changes. The credits history is not touched: it keeps
    the grants of the plan first subscribed (``DemoSub.sub`` is not reloaded)."""

    rng = random.Random(SEED + 1)
    events = []
    for demo in made:
        stop = min(demo.end or now, now)
        if (stop - demo.start).days < 60 or rng.random() >= PLAN_CHANGE_SHARE:
            continue
        interval = demo.price.interval
        targets = [
            (p, p.yearly_price if interval == "year" else p.monthly_price)
            for p in plans
            if p.pk != demo.sub.plan_id
        ]
        targets = [
            (p, price)
            for p, price in targets
            if price is not None and price.currency == demo.price.currency
        ]
        if not targets:
            continue
        plan, price = rng.choice(targets)
        moment = demo.start + timedelta(
            days=rng.randrange(30, (stop - demo.start).days), hours=rng.randrange(24)
        )
        if moment >= stop:
            continue
        Subscription.objects.filter(pk=demo.sub.pk).update(plan=plan, price=price)
        demo.change = (moment, price)
        events.append(
            (
                demo.sub.pk,
                SubscriptionEvent.Type.PLAN_CHANGED,
                SubscriptionEvent.Source.CUSTOMER,
                f"Your plan is now {plan.name} ({interval}ly).",
                json.dumps({"plan": demo.sub.plan_id, "price": demo.price.pk}),
                moment,
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql.SQL(
                "INSERT INTO {} (subscription_id, type, source, message, payload, stripe_event_id,"
                " created_at) VALUES (%s, %s, %s, %s, %s::jsonb, '', %s)"
            ).format(sql.Identifier(SubscriptionEvent._meta.db_table)),
            events,
        )
    return len(events)


def _renewals(demo: DemoSub, now: datetime):
    step_months = 12 if demo.price.interval == "year" else demo.price.interval_count
    moment, n = demo.start, 0
    stop = min(demo.end or now, now)
    while moment < stop:
        yield n, moment
        n += 1
        month = moment.month - 1 + step_months
        year = moment.year + month // 12
        moment = moment.replace(year=year, month=month % 12 + 1, day=min(moment.day, 28))


def _payments(rng, subs: list[DemoSub], today: date, stats: Stats) -> None:
    now = datetime.combine(today, time(0), tzinfo=UTC)
    stamps = {}
    for demo in subs:
        sub = demo.sub
        for n, moment in _renewals(demo, now):
            amount = demo.price_at(moment).unit_amount * sub.quantity
            refund = rng.random() < 0.03
            order = None
            if refund:
                order = Order.objects.create(
                    number=f"AD-{sub.pk}-{n}",
                    user_id=sub.user_id,
                    status=OrderStatus.REFUNDED,
                    payment_status=PaymentStatus.REFUNDED,
                    billing_source=BillingSource.MANUAL,
                    currency=demo.price.currency,
                    subtotal=amount,
                    total=amount,
                    refunded_amount=amount,
                    completed_at=moment,
                )
            payment = Payment.objects.create(
                user_id=sub.user_id,
                order=order,
                provider=BillingSource.MANUAL,
                provider_id=f"analytics-demo-{sub.pk}-{n}",
                amount=amount,
                currency=demo.price.currency,
                paid_at=moment,
                metadata={"demo": "analytics"},
            )
            stamps[payment.pk] = moment
            stats.payments += 1
            if refund:
                Refund.objects.create(
                    order=order,
                    payment=payment,
                    amount=amount,
                    currency=payment.currency,
                    reason=RefundReason.REQUESTED_BY_CUSTOMER,
                    status=Refund.Status.SUCCEEDED,
                    provider=BillingSource.MANUAL,
                    idempotency_key=f"analytics-demo-{payment.pk}",
                    processed_at=min(moment + timedelta(days=2), now - timedelta(hours=1)),
                )
                stats.refunds += 1
    _backdate(Payment, stamps)


def _credits(rng, subs: list[DemoSub], today: date, stats: Stats) -> None:
    operations = list(FeatureCost.objects.filter(active=True).values_list("operation", "cost"))
    if not operations:
        stats.notes.append("no feature costs (run seed_credits): no credit usage")
        return
    now = datetime.combine(today, time(0), tzinfo=UTC)
    users: dict[int, list[DemoSub]] = {}
    for demo in subs:
        users.setdefault(demo.sub.user_id, []).append(demo)
    for user_id, demos in sorted(users.items()):
        # (moment, "grant", amount) or (moment, operation, cost, quantity): write_ledger's
        events: list[tuple[datetime, str, int] | tuple[datetime, str, int, int]] = []
        for demo in demos:
            credits = demo.sub.plan.credits_per_period or 500
            for _, moment in _renewals(demo, now):
                events.append((moment, "grant", credits))
            day = demo.start
            stop = min(demo.end or now, now)
            while day < stop:
                op, cost = rng.choice(operations)
                quantity = rng.randrange(1, 6)
                events.append(
                    (day + timedelta(hours=rng.randrange(1, 20)), op, cost * quantity, quantity)
                )
                day += timedelta(days=rng.randrange(2, 9))
        stats.ledger_rows += demo_ledger.write_ledger(user_id, sorted(events, key=lambda e: e[0]))


def _support(rng, customers, first_day: date, today: date, stats: Stats) -> None:
    # Written in bulk: a year of history is a few thousand rows. The desk's services (ticket
    # numbers, SLA dates, webhook events) are for live tickets, not this backdated history.
    now = datetime.combine(today, time(0), tzinfo=UTC)
    tickets, ticket_times, chats = [], [], []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        present = [c for c in customers if c.joined.date() <= day]
        if not present:
            continue
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            opened = _moment(rng, day)
            first = opened + timedelta(minutes=rng.randrange(5, 600))
            resolved = first + timedelta(hours=rng.randrange(1, 72))
            done = resolved < now
            tickets.append(
                Ticket(
                    customer=rng.choice(present),
                    subject=rng.choice(
                        [
                            "Invoice question",
                            "Cannot export",
                            "Card declined",
                            "Feature request",
                            "Login trouble",
                            "Credits missing",
                        ]
                    ),
                    description="Demo ticket.",
                    priority=rng.choice(TicketPriority.values),
                    status=TicketStatus.RESOLVED if done else TicketStatus.IN_PROGRESS,
                    first_response_at=first if first < now else None,
                    resolved_at=resolved if done else None,
                    metadata={"demo": "analytics"},
                )
            )
            ticket_times.append(opened)
        for _ in range(rng.choice([1, 2, 3, 4])):
            started = _moment(rng, day)
            customer = rng.choice(present)
            answered = rng.random() < 0.75
            handed_off = not answered or rng.random() < 0.1
            chats.append((customer, started, answered, handed_off))
    _write_chats(chats, stats)
    Ticket.objects.bulk_create(tickets)
    stats.tickets += len(tickets)
    _backdate(Ticket, {t.pk: at for t, at in zip(tickets, ticket_times, strict=True)})


def _write_chats(chats: list, stats: Stats) -> None:
    """One conversation per (customer, started, answered, handed_off): the customer's question
    and the bot's answer, backdated to when it started."""
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(customer=customer, handed_off_at=started if handed_off else None)
            for customer, started, _, handed_off in chats
        ]
    )
    messages = []
    for conversation, (_, _, answered, _) in zip(conversations, chats, strict=True):
        messages += [
            ChatMessage(
                conversation=conversation,
                role=ChatRole.CUSTOMER,
                body="How do I change my plan?",
            ),
            ChatMessage(
                conversation=conversation,
                role=ChatRole.BOT,
                body="Here is how to change your plan.",
                answered=answered,
            ),
        ]
    ChatMessage.objects.bulk_create(messages)
    stats.conversations += len(conversations)
    _backdate(Conversation, {c.pk: chat[1] for c, chat in zip(conversations, chats, strict=True)})
