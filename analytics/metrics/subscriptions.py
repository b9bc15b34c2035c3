"""Subscription metrics: MRR/ARR, MRR movements, subscription counts and churn.

A subscription's state at an instant T is reconstructed as follows.

Its life, from its timestamps:

* it exists from ``created_at``;
* it has ENDED at ``ended_at`` when its status is CANCELED: billing's ``ended_at`` when set,
  otherwise the end of the paid period for a cancel-at-period-end cancellation
  (``current_period_end``), otherwise ``canceled_at`` (``updated_at`` when neither is set);
* while it exists and has not ended it is TRIALING if ``trial_end`` is after T (or its status
  is still TRIALING), otherwise it is PAYING when its status is ACTIVE, PAST_DUE or CANCELED.
  UNPAID, PAUSED and INCOMPLETE(_EXPIRED) subscriptions never count as paying.

Its price, from billing's append-only timeline (``billing.SubscriptionEvent``): every
PLAN_CHANGED event records the plan and price the subscription had BEFORE the change
(payload ``{"plan": id, "price": id, ...}``, written by ``change_plan``). So the price at T is
the "before" price of the first PLAN_CHANGED event at or after T, and the subscription's
current price when no change happened at or after T (which covers subscriptions without any
event: seeds and older rows). Equivalently: the state after the last change before T. Each
lookup is one LATERAL index probe per live subscription (no Python loop over rows).

The quantity (seats) at T comes from the same event: its payload's ``quantity`` (recorded on
both the manual and the Stripe path since 22 Nov 2026), else the current quantity. A
PLAN_CHANGED event without a ``price`` in its payload (Stripe-path events written before that
date) falls back to the current price.

MRR and its movements read the result of that reconstruction kept as state: the customers'
MRR spans (``analytics.models.CustomerMRR``), which the database recomputes for a customer
whenever their subscriptions, their plan changes or the prices they read change (migration
analytics 0002 holds the same reading in SQL). A day's MRR is then one scan of the spans open
at its end, whatever the length of the history. The subscription counts and the MRR
drill-down (``analytics.selectors.mrr_subscriptions``) reconstruct per subscription, with the
fragments below; tests hold the two readings equal.
"""

from decimal import Decimal

from psycopg import sql

from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, dec, fetch, ratio
from analytics.metrics.registry import register
from analytics.models import CustomerMRR
from billing.models import Subscription, SubscriptionEvent
from catalog.models import Plan, Price


def monthly_amount(p: str, quantity: str = "s.quantity") -> str:
    """Monthly normalisation of the price aliased ``p``: amount × quantity × NUM / (DEN ×
    interval_count). Kept as an exact numeric fraction so rounding happens once, on the
    per-currency total."""
    return f"""
    ({quantity} * {p}.unit_amount)::numeric
    * (CASE {p}.interval WHEN 'year' THEN 1 WHEN 'week' THEN 52 WHEN 'day' THEN 365 ELSE 1 END)
    / ((CASE {p}.interval WHEN 'month' THEN 1 ELSE 12 END) * {p}.interval_count)
"""


MONTHLY_AMOUNT = monthly_amount("p")


# The joins giving the price row {p} the subscription ``s`` (joined to its current plan ``pl``)
# had at the instant {at}: the "before" price of the first PLAN_CHANGED event at or after
# {at}, else the current price (the plan's monthly price when none is stored). Billing's
# index on the events' subscription_id bounds each probe to one subscription's events.
PRICE_AS_OF = """
    LEFT JOIN LATERAL (
        SELECT e.payload FROM {events} e
        WHERE e.subscription_id = s.id AND e.type = 'PLAN_CHANGED' AND e.created_at >= {at}
        ORDER BY e.created_at, e.id LIMIT 1
    ) {ev} ON true
    LEFT JOIN {plans} {old_plan} ON {old_plan}.id = ({ev}.payload ->> 'plan')::bigint
    JOIN {prices} {p} ON {p}.id = COALESCE(
        ({ev}.payload ->> 'price')::bigint,
        {old_plan}.monthly_price_id, s.price_id, pl.monthly_price_id)
"""


def price_as_of(alias: str, at: str) -> sql.Composable:
    """``PRICE_AS_OF`` for the price alias ``alias`` at the bound parameter named ``at``."""

    return sql.SQL(PRICE_AS_OF).format(
        events=sql.Identifier(SubscriptionEvent._meta.db_table),
        plans=sql.Identifier(Plan._meta.db_table),
        prices=sql.Identifier(Price._meta.db_table),
        at=sql.Placeholder(at),
        ev=sql.Identifier(f"{alias}_ev"),
        old_plan=sql.Identifier(f"{alias}_plan"),
        p=sql.Identifier(alias),
    )


def quantity_as_of(alias: str) -> str:
    """The quantity the subscription had at the instant of ``price_as_of(alias, ...)``: the
    "before" quantity of the same PLAN_CHANGED event, else the current one."""
    return f"COALESCE(({alias}_ev.payload ->> 'quantity')::integer, s.quantity)"


ENDED_AT = """
    (CASE WHEN s.status = 'CANCELED' THEN
        CASE WHEN s.ended_at IS NOT NULL THEN s.ended_at
             WHEN s.cancel_at_period_end AND s.current_period_end IS NOT NULL
             THEN s.current_period_end
             ELSE COALESCE(s.canceled_at, s.current_period_end, s.updated_at) END
     END)
"""

# The subscription rows that can matter for an instant in [start, end]: still live, or ended
# at or after start. A snapshot: the scan covers live subscriptions and the day's
# cancellations, not every subscription that ever ended.
# The first four conditions of the CANCELED branch are implied by ended_at >= start (each
# case of ENDED_AT is one of them); they are there so that partial indexes on canceled_at and
# current_period_end (WHERE status = 'CANCELED') can bound the scan: see the report to billing.
RELEVANT = f"""
    s.created_at < %(end)s
    AND (s.status IN ('ACTIVE', 'PAST_DUE', 'TRIALING')
         OR (s.status = 'CANCELED'
             AND (s.canceled_at >= %(start)s OR s.current_period_end >= %(start)s
                  OR s.ended_at >= %(start)s OR s.canceled_at IS NULL)
             AND {ENDED_AT} >= %(start)s))
"""


def _alive(at: str) -> str:
    return f"(s.created_at < {at} AND ({ENDED_AT} IS NULL OR {ENDED_AT} >= {at}))"


def _trialing(at: str) -> str:
    return (
        f"({_alive(at)} AND ((s.trial_end IS NOT NULL AND s.trial_end > {at})"
        " OR s.status = 'TRIALING'))"
    )


def _paying(at: str) -> str:
    return (
        f"({_alive(at)} AND NOT {_trialing(at)} AND s.status IN ('ACTIVE', 'PAST_DUE', 'CANCELED'))"
    )


# When a subscription started paying: at creation, or when its trial ended.
PAYING_FROM = "GREATEST(s.created_at, COALESCE(s.trial_end, s.created_at))"


def sql_parts() -> dict:
    return {
        "subs": Subscription,
        "plans": Plan,
        "prices": Price,
        "price_at_start": price_as_of("ps", "start"),
        "price_at_end": price_as_of("pe", "end"),
        "monthly_start": monthly_amount("ps", quantity_as_of("ps")),
        "monthly_end": monthly_amount("pe", quantity_as_of("pe")),
        "monthly": MONTHLY_AMOUNT,
        "ended_at": ENDED_AT,
        "relevant": RELEVANT,
        "paying_start": _paying("%(start)s"),
        "paying_end": _paying("%(end)s"),
        "trialing_end": _trialing("%(end)s"),
    }


# --- MRR and ARR ----------------------------------------------------------------------------

MRR_DEFINITION = """
Monthly recurring revenue at the end of the day (UTC), per currency, in minor units: the sum
over subscriptions that are paying at that moment (ACTIVE or PAST_DUE, or CANCELED but not yet
ended; never TRIALING) of the price's unit amount × quantity, normalised to a month: monthly
÷ interval count, yearly ÷ 12, weekly × 52 ÷ 12, daily × 365 ÷ 12. The price is the one the
subscription had at that moment, read from billing's timeline: a plan or interval change
(PLAN_CHANGED event) made later records the price before it, so a past day keeps the price of
that day when it is recomputed; without a later change it is the subscription's price (its
plan's monthly price when none is recorded). The quantity is read the same way: the
quantity recorded with that later change, else the current one. Discounts are not
subtracted: billing's discounts apply to the first invoice only, never to every month.
Rounded once, on the currency total, to two decimals of a minor unit (half away from zero): a
$29/month and a $290/year subscription give 2900 + 2416.67 = 5316.67. ARR = MRR × 12.
Paying customers = distinct customers with a paying subscription; ARPU = MRR ÷ paying
customers.
"""


# The customers' MRR spans (analytics.models.CustomerMRR, kept by the database from the same
# reading of subscriptions, timeline and prices as ``PRICE_AS_OF`` and ``_paying``) that hold
# at the instant %(at)s: a span (pays_after, pays_until] holds at T when pays_after < T and
# pays_until is open or at or after T.
def _span_holds(at: str) -> str:
    return f"(m.pays_after < {at} AND (m.pays_until IS NULL OR m.pays_until >= {at}))"


def compute_mrr(day) -> list[Row]:
    _, end = day_bounds(day)
    # One span per paying customer and currency at the end of the day: the customer count
    # is the row count, with no DISTINCT to sort for.
    template = """
        SELECT m.currency, SUM(m.mrr), COUNT(*), SUM(m.subscriptions)
        FROM {spans} m WHERE {holds_end}
        GROUP BY m.currency ORDER BY m.currency
    """
    rows = []
    for currency, mrr, customers, subscriptions in fetch(
        template, {"end": end}, prepared=True, spans=CustomerMRR, holds_end=_span_holds("%(end)s")
    ):
        meta = {"subscriptions": subscriptions, "paying_customers": customers}
        rows += [
            Row("mrr", dec(mrr), currency, meta),
            Row("arr", dec(mrr * 12), currency, meta),
            Row("paying_customers", Decimal(customers), currency),
            Row("arpu", dec(mrr / customers), currency, meta),
        ]
    return rows


MRR = register(
    MetricFamily(
        key="mrr",
        title="MRR and ARR",
        version=3,
        definition=MRR_DEFINITION,
        metrics=(
            Metric("mrr", "MRR", Unit.MONEY, "currency"),
            Metric("arr", "ARR", Unit.MONEY, "currency"),
            Metric("paying_customers", "Paying customers", Unit.COUNT, "currency"),
            Metric("arpu", "ARPU", Unit.MONEY, "currency"),
        ),
        compute=compute_mrr,
    )
)


# --- MRR movements --------------------------------------------------------------------------

MOVEMENTS_DEFINITION = """
How MRR changed during the day, per currency, in minor units. For every customer and currency
we compare the customer's MRR at the start of the day (00:00 UTC) with their MRR at its end
(24:00 UTC), each computed as for MRR with the price each subscription had at that moment
(from billing's timeline), so a plan or interval change made in place during the day counts:
$10 → $30 a month is 2000 of expansion, $30 a month → $300 a year (2500 a month) is 500 of
contraction. A customer going from 0 to more than 0 is NEW, or a
REACTIVATION when they had a paying subscription that had ended before the day began; from
more than 0 to a higher amount is EXPANSION (the increase); to a lower amount above 0 is
CONTRACTION (the decrease); from more than 0 to 0 is CHURNED (the amount lost). Net new MRR =
new + reactivation + expansion − contraction − churned, which equals the day's change in MRR.
The metadata holds the number of customers in each movement.
"""

MOVEMENT_KEYS = ("new", "expansion", "contraction", "churned", "reactivation")


def compute_mrr_movements(day) -> list[Row]:
    start, end = day_bounds(day)
    template = """
        WITH per_customer AS (
            SELECT m.customer_id AS user_id, m.currency,
                   COALESCE(SUM(m.mrr) FILTER (WHERE {holds_start}), 0) AS b,
                   COALESCE(SUM(m.mrr) FILTER (WHERE {holds_end}), 0) AS e
            FROM {spans} m
            WHERE (m.pays_until IS NULL OR m.pays_until >= %(start)s) AND m.pays_after < %(end)s
            GROUP BY m.customer_id, m.currency
        ), classified AS (
            SELECT currency, b, e,
                   CASE
                     WHEN b = 0 AND e > 0 AND EXISTS (
                         SELECT 1 FROM {subs} s WHERE s.user_id = c.user_id
                         AND s.status = 'CANCELED' AND {ended_at} < %(start)s
                         AND (s.trial_end IS NULL OR s.trial_end < {ended_at}))
                       THEN 'reactivation'
                     WHEN b = 0 AND e > 0 THEN 'new'
                     WHEN b > 0 AND e = 0 THEN 'churned'
                     WHEN b > 0 AND e > b THEN 'expansion'
                     WHEN b > 0 AND e < b THEN 'contraction'
                   END AS movement
            FROM per_customer c
        )
        SELECT currency, movement, SUM(ABS(e - b)), COUNT(*)
        FROM classified WHERE movement IS NOT NULL
        GROUP BY currency, movement ORDER BY currency, movement
    """
    parts = {
        "spans": CustomerMRR,
        "subs": Subscription,
        "ended_at": ENDED_AT,
        "holds_start": _span_holds("%(start)s"),
        "holds_end": _span_holds("%(end)s"),
    }
    found = {
        (cur, mov): (amount, n)
        for cur, mov, amount, n in fetch(
            template, {"start": start, "end": end}, prepared=True, **parts
        )
    }
    rows = []
    for currency in sorted({cur for cur, _ in found}):
        for movement in MOVEMENT_KEYS:
            amount, n = found.get((currency, movement), (0, 0))
            rows.append(Row(f"mrr_{movement}", dec(amount), currency, {"customers": n}))
    return rows


MRR_MOVEMENTS = register(
    MetricFamily(
        key="mrr_movements",
        title="MRR movements",
        version=3,
        definition=MOVEMENTS_DEFINITION,
        metrics=tuple(
            Metric(f"mrr_{m}", f"{m.title()} MRR", Unit.MONEY, "currency") for m in MOVEMENT_KEYS
        ),
        compute=compute_mrr_movements,
    )
)


# --- subscription counts and churn ---------------------------------------------------------

COUNTS_DEFINITION = """
Counts of subscriptions, all currencies together. ACTIVE = paying at the end of the day (as
for MRR); TRIALING = in a trial at the end of the day. NEW = subscriptions that started paying
during the day (created that day without a trial, or whose trial ended that day). CHURNED =
paying subscriptions that ended during the day (an ended trial is not churn); a subscription
ends at billing's ended_at when recorded, else at its period end (cancel at period end) or
when it was canceled. Subscriber churn
rate = churned ÷ (paying at the start of the day + new); over a range the dashboard uses
Σ churned ÷ (paying at the start of the range + Σ new).
"""


def compute_subscription_counts(day) -> list[Row]:
    start, end = day_bounds(day)
    template = """
        SELECT
          COUNT(*) FILTER (WHERE {paying_end}),
          COUNT(*) FILTER (WHERE {trialing_end}),
          COUNT(*) FILTER (WHERE {paying_start}),
          COUNT(*) FILTER (WHERE s.status IN ('ACTIVE', 'PAST_DUE', 'CANCELED')
                           AND {paying_from} >= %(start)s AND {paying_from} < %(end)s
                           AND ({ended_at} IS NULL OR {ended_at} > {paying_from})),
          COUNT(*) FILTER (WHERE {ended_at} >= %(start)s AND {ended_at} < %(end)s
                           AND {paying_from} < {ended_at})
        FROM {subs} s JOIN {plans} pl ON pl.id = s.plan_id
        JOIN {prices} p ON p.id = COALESCE(s.price_id, pl.monthly_price_id)
        WHERE {relevant}
    """
    active, trialing, at_start, new, churned = fetch(
        template, {"start": start, "end": end}, paying_from=PAYING_FROM, **sql_parts()
    )[0]
    churn_meta = {"churned": churned, "active_at_start": at_start, "new": new}
    return [
        Row("active_subscriptions", Decimal(active)),
        Row("trialing_subscriptions", Decimal(trialing)),
        Row("active_subscriptions_at_start", Decimal(at_start)),
        Row("new_subscriptions", Decimal(new)),
        Row("churned_subscriptions", Decimal(churned)),
        Row("subscriber_churn_rate", ratio(churned, at_start + new), "", churn_meta),
    ]


SUBSCRIPTION_COUNTS = register(
    MetricFamily(
        key="subscriptions",
        title="Subscriptions and churn",
        version=2,
        definition=COUNTS_DEFINITION,
        metrics=(
            Metric("active_subscriptions", "Active subscriptions", Unit.COUNT),
            Metric("trialing_subscriptions", "Trialing subscriptions", Unit.COUNT),
            Metric("active_subscriptions_at_start", "Active at start of day", Unit.COUNT),
            Metric("new_subscriptions", "New subscriptions", Unit.COUNT),
            Metric("churned_subscriptions", "Churned subscriptions", Unit.COUNT),
            Metric("subscriber_churn_rate", "Subscriber churn rate", Unit.RATIO),
        ),
        compute=compute_subscription_counts,
    )
)
