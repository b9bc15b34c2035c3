"""What seed_history builds on: the customers (their balances and live lots, locked), their
plans, the credit packs to buy, the staff, and how the rows are shared among customers."""

import bisect
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.models import STAFF_ROLES, Role, Status, User
from analytics.seed_history.rows import SeedError, stamp, text
from billing.models import Subscription
from catalog.models import Price, ProductStatus, ProductType

HEAVY_SHARE = 0.2  # of the rows, taken by the first customer
PLAN_PERIOD = timedelta(days=30)


class Lot:
    __slots__ = (
        "id",
        "user_id",
        "source",
        "amount",
        "remaining",
        "expires_at",
        "expired_at",
        "source_ref",
        "key",
        "created_at",
        "written",
        "dirty",
        "order",
    )

    def __init__(
        self,
        *,
        id,
        user_id,
        source,
        amount,
        remaining,
        expires_at,
        created_at,
        source_ref="",
        key="",
        written=False,
    ):
        self.id, self.user_id, self.source = id, user_id, source
        self.amount, self.remaining, self.expires_at = amount, remaining, expires_at
        self.expired_at, self.source_ref, self.key = None, source_ref, key
        self.created_at, self.written, self.dirty = created_at, written, False
        # Drawing order: first to expire first (no expiry last), then oldest.
        self.order = (expires_at.timestamp() if expires_at else float("inf"), id)

    def row(self) -> str:
        return (
            "\t".join(
                [
                    str(self.id),
                    self.created_at.isoformat(),
                    self.created_at.isoformat(),
                    str(self.user_id),
                    self.source,
                    str(self.amount),
                    str(self.remaining),
                    stamp(self.expires_at),
                    stamp(self.expired_at),
                    text(self.source_ref),
                    text(self.key),
                ]
            )
            + "\n"
        )


class Customer:
    __slots__ = (
        "user_id",
        "email",
        "balance",
        "lots",
        "recent",
        "subscription",
        "next_renewal",
        "last_login_day",
    )

    def __init__(self, user_id, email, balance):
        self.user_id, self.email, self.balance = user_id, email, balance
        self.lots: list[Lot] = []  # live lots (credits left, not expired), drawing order
        self.recent: deque = deque(maxlen=8)  # recent consumptions that may be refunded
        self.subscription: PlanTerms | None = None
        self.next_renewal: datetime | None = None
        self.last_login_day = -1

    def add_lot(self, lot: Lot) -> None:
        bisect.insort(self.lots, lot, key=lambda x: x.order)


@dataclass
class PlanTerms:
    """A customer's subscription as its renewals need it."""

    id: int
    source: str
    plan_slug: str
    credits: int
    amount: int
    currency: str


@dataclass
class Pack:
    product_id: int
    price_id: int
    name: str
    credits: int
    amount: int
    currency: str


def pick_customers(count: int) -> list[tuple[int, str]]:
    """(id, e-mail) of the first ``count`` active customers by id."""
    users = list(
        User.objects.filter(role=Role.CUSTOMER, status=Status.ACTIVE)
        .order_by("id")
        .values_list("id", "email")[:count]
    )
    if not users:
        raise SeedError("No active customers: run `manage.py seed_demo` first.")
    return users


def lock_customers(cursor, users: list[tuple[int, str]]) -> list[Customer]:
    """``users`` as customers with their balances, each balance row made if missing and
    locked."""
    ids = [user_id for user_id, _ in users]
    cursor.execute(
        """
        INSERT INTO credits_creditbalance (user_id, balance, low_balance_notified, created_at,
                                           updated_at)
        SELECT id, 0, false, now(), now() FROM unnest(%s::bigint[]) AS u(id)
        ON CONFLICT (user_id) DO NOTHING""",
        [ids],
    )
    # The lock order of every credits movement: the balance row first, in id order.
    cursor.execute(
        "SELECT user_id, balance FROM credits_creditbalance WHERE user_id = ANY(%s) "
        "ORDER BY id FOR UPDATE",
        [ids],
    )
    balances = dict(cursor.fetchall())
    return [Customer(user_id, email, balances[user_id]) for user_id, email in users]


def lock_live_lots(cursor, customers: list[Customer]) -> None:
    """Each customer's live lots, locked, in drawing order; refuses to go on for a customer
    whose books disagree already."""
    by_id = {c.user_id: c for c in customers}
    cursor.execute(
        """
        SELECT id, user_id, source, amount, remaining, expires_at, created_at
          FROM credits_creditgrant
         WHERE user_id = ANY(%s) AND expired_at IS NULL AND remaining > 0
         ORDER BY id FOR UPDATE""",
        [list(by_id)],
    )
    for lot_id, user_id, source, amount, remaining, expires_at, created_at in cursor.fetchall():
        lot = Lot(
            id=lot_id,
            user_id=user_id,
            source=source,
            amount=amount,
            remaining=remaining,
            expires_at=expires_at,
            created_at=created_at,
            written=True,
        )
        by_id[user_id].add_lot(lot)
    for customer in customers:
        if customer.balance != sum(lot.remaining for lot in customer.lots):
            raise SeedError(
                f"The credits of {customer.email} do not add up already "
                "(credits.invariant.check_invariant): nothing written."
            )


def plans_of(customers: list[Customer], start: datetime, rng: random.Random) -> None:
    """Each customer's current plan with credits (their newest live subscription), renewing
    first at a random moment of the window's first period."""
    by_id = {c.user_id: c for c in customers}
    rows = (
        Subscription.objects.filter(
            user_id__in=by_id,
            status__in=["ACTIVE", "TRIALING", "PAST_DUE"],
            plan__credits_per_period__gt=0,
        )
        .select_related("plan", "price")
        .order_by("user_id", "-created_at")
    )
    for sub in rows:
        customer = by_id[sub.user_id]
        if customer.subscription is not None:
            continue
        price = sub.price
        customer.subscription = PlanTerms(
            id=sub.pk,
            source=sub.billing_source,
            plan_slug=sub.plan.slug,
            credits=sub.plan.credits_per_period,
            amount=price.unit_amount if price else 0,
            currency=price.currency if price else "usd",
        )
        customer.next_renewal = start + timedelta(
            seconds=rng.randrange(int(PLAN_PERIOD.total_seconds()))
        )


def credit_packs() -> list[Pack]:
    """The published credit packs and their one-time price: what a short balance buys."""
    prices = (
        Price.objects.filter(
            product__type=ProductType.CREDIT_PACK,
            product__status=ProductStatus.PUBLISHED,
            product__deleted_at__isnull=True,
            product__credits_granted__gt=0,
            active=True,
            type="ONE_TIME",
            unit_amount__gt=0,
        )
        .select_related("product")
        .order_by("product_id", "id")
    )
    packs: dict[int, Pack] = {}
    for price in prices:
        packs.setdefault(
            price.product_id,
            Pack(
                product_id=price.product_id,
                price_id=price.pk,
                name=price.product.name,
                credits=price.product.credits_granted,
                amount=price.unit_amount,
                currency=price.currency,
            ),
        )
    if not packs:
        raise SeedError(
            "No published credit pack with a price: run `manage.py seed_demo` "
            "(or seed_catalog) first."
        )
    return list(packs.values())


def staff_members() -> list[tuple[int, str]]:
    return list(
        User.objects.filter(role__in=STAFF_ROLES, status=Status.ACTIVE)
        .order_by("id")
        .values_list("id", "email")
    )


def shares(count: int, rng: random.Random) -> list[float]:
    """The first customer takes HEAVY_SHARE of the events (when there are others); the
    others share the rest unevenly, as real usage is."""
    if count == 1:
        return [1.0]
    others = [rng.paretovariate(1.5) for _ in range(count - 1)]
    scale = (1 - HEAVY_SHARE) / sum(others)
    return [HEAVY_SHARE] + [weight * scale for weight in others]


def lanes(weights: list[float], count: int) -> list[list[int]]:
    """The customers (by index) in ``count`` groups of about equal weight, heaviest first:
    each group is written through a connection of its own."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(count, len(weights))))]
    loads = [0.0] * len(groups)
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += weights[index]
    return [sorted(group) for group in groups]
