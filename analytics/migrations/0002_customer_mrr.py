"""Customers' MRR kept as state: the table analytics_customermrr, the function that
recomputes a customer's rows, and the triggers that call it on every change MRR reads.

The daily MRR families read the table (one scan of the spans open at the day's end) instead of
reconstructing every subscription's price and state as of the day. This migration is the
function's and triggers' only definition: a change is a new migration that replaces them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import analytics.models

# The customers' MRR spans, computed from what analytics' MRR definition reads: a
# subscription pays at T when its status is ACTIVE, PAST_DUE or CANCELED, it was created
# before T, its trial (if any) ended at or before T, and (CANCELED) it ended at or after T;
# its price at T is the "before" price of the first PLAN_CHANGED event at or after T (the
# event's price, else its plan's monthly price, else the current price), else the current
# price (the plan's monthly price when none is recorded); its quantity likewise. Each
# subscription is cut into pieces (lo, hi] with one price; a customer's spans run between
# consecutive bounds of their pieces, each with the sum of the pieces covering it.
# Timestamps have microsecond resolution, so "trial_end <= T" is "trial_end - 1 µs < T".
REFRESH = r"""
CREATE FUNCTION analytics_customer_mrr_refresh(p_customers bigint[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v_customers bigint[];
    v_customer bigint;
BEGIN
    v_customers := ARRAY(
        SELECT DISTINCT c FROM unnest(p_customers) AS c WHERE c IS NOT NULL ORDER BY c);
    -- One recomputation of a customer at a time, in customer order: the statements below
    -- then read every other transaction's committed change to that customer's
    -- subscriptions (READ COMMITTED takes a new snapshot per statement).
    FOREACH v_customer IN ARRAY v_customers LOOP
        PERFORM pg_advisory_xact_lock(82002, hashint8(v_customer));
    END LOOP;

    DELETE FROM analytics_customermrr m USING unnest(v_customers) AS c (id)
    WHERE m.customer_id = c.id;

    INSERT INTO analytics_customermrr
        (customer_id, currency, mrr, subscriptions, pays_after, pays_until)
    WITH subs AS (
        SELECT s.id, s.user_id, s.quantity, s.price_id, s.created_at, s.trial_end,
               pl.monthly_price_id AS plan_price_id,
               CASE WHEN s.status = 'CANCELED' THEN
                   CASE WHEN s.ended_at IS NOT NULL THEN s.ended_at
                        WHEN s.cancel_at_period_end AND s.current_period_end IS NOT NULL
                        THEN s.current_period_end
                        ELSE COALESCE(s.canceled_at, s.current_period_end, s.updated_at) END
               END AS ended
        FROM unnest(v_customers) AS c (id)
        JOIN billing_subscription s ON s.user_id = c.id
        JOIN catalog_plan pl ON pl.id = s.plan_id
        WHERE s.status IN ('ACTIVE', 'PAST_DUE', 'CANCELED')
    ), steps AS (
        -- Each plan change closes a segment priced as the change recorded what it replaced;
        -- a last segment, to infinity, has the current price. Each row carries what it needs
        -- of its subscription, so no step joins back to it: every join here is linear
        -- whatever the number of customers, also under the generic plan PL/pgSQL caches
        -- after a few one-customer calls.
        SELECT s.id AS subscription_id, s.user_id, s.created_at, s.trial_end, s.ended,
               e.created_at AS until_at, e.id AS event_id,
               COALESCE((e.payload ->> 'price')::bigint, old_plan.monthly_price_id,
                        s.price_id, s.plan_price_id) AS price_id,
               COALESCE((e.payload ->> 'quantity')::integer, s.quantity) AS quantity
        FROM subs s
        JOIN billing_subscriptionevent e
          ON e.subscription_id = s.id AND e.type = 'PLAN_CHANGED'
        LEFT JOIN catalog_plan old_plan ON old_plan.id = (e.payload ->> 'plan')::bigint
        UNION ALL
        SELECT s.id, s.user_id, s.created_at, s.trial_end, s.ended,
               'infinity'::timestamptz, NULL, COALESCE(s.price_id, s.plan_price_id), s.quantity
        FROM subs s
    ), segments AS (
        SELECT st.*, lag(st.until_at) OVER (PARTITION BY st.subscription_id
                                            ORDER BY st.until_at, st.event_id NULLS LAST)
                     AS after_at
        FROM steps st
    ), pieces AS (
        -- The instants T with lo < T <= hi at which the subscription pays this price.
        SELECT g.user_id, p.currency, bounds.lo, bounds.hi,
               (g.quantity * p.unit_amount)::numeric
               * (CASE p.interval WHEN 'year' THEN 1 WHEN 'week' THEN 52 WHEN 'day' THEN 365
                  ELSE 1 END)
               / ((CASE p.interval WHEN 'month' THEN 1 ELSE 12 END) * p.interval_count)
               AS monthly
        FROM segments g JOIN catalog_price p ON p.id = g.price_id
        CROSS JOIN LATERAL (SELECT
            GREATEST(g.created_at, g.trial_end - interval '1 microsecond', g.after_at) AS lo,
            LEAST(g.ended, g.until_at) AS hi) AS bounds
        WHERE bounds.lo < bounds.hi
    ), steps_by_point AS (
        -- A sweep over each customer's pieces: a piece adds its amount from lo on and takes
        -- it away from hi on; the running sum holds from one point to the next (exact: the
        -- sums are numeric).
        SELECT user_id, currency, point, SUM(amount) AS amount, SUM(n) AS n
        FROM pieces CROSS JOIN LATERAL (VALUES (lo, monthly, 1), (hi, -monthly, -1))
             AS d (point, amount, n)
        GROUP BY user_id, currency, point
    ), running AS (
        SELECT user_id, currency, point AS after_at,
               lead(point) OVER w AS until_at,
               SUM(amount) OVER w AS mrr, SUM(n) OVER w AS subscriptions
        FROM steps_by_point
        WINDOW w AS (PARTITION BY user_id, currency ORDER BY point)
    )
    SELECT user_id, currency, mrr, subscriptions, after_at,
           NULLIF(until_at, 'infinity'::timestamptz)
    FROM running
    WHERE subscriptions > 0 AND until_at IS NOT NULL;
END
$fn$;
"""

# The triggers: statement-level, with the changed rows as transition tables, so a bulk
# write recomputes each customer once. An UPDATE recomputes only the rows where something
# MRR reads changed (a Stripe sync that touches other columns costs a comparison).
TRIGGERS = r"""
CREATE FUNCTION analytics_customer_mrr_on_subscription() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_customer_mrr_refresh(ARRAY(SELECT user_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_customer_mrr_refresh(ARRAY(SELECT user_id FROM old_rows));
    ELSE
        PERFORM analytics_customer_mrr_refresh(ARRAY(
            SELECT unnest(ARRAY[o.user_id, n.user_id])
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.user_id, o.plan_id, o.price_id, o.quantity, o.status, o.created_at,
                   o.trial_end, o.ended_at, o.cancel_at_period_end, o.current_period_end,
                   o.canceled_at)
                  IS DISTINCT FROM
                  (n.user_id, n.plan_id, n.price_id, n.quantity, n.status, n.created_at,
                   n.trial_end, n.ended_at, n.cancel_at_period_end, n.current_period_end,
                   n.canceled_at)
               -- updated_at is read only as the end of a CANCELED subscription without a
               -- recorded end, cancellation or period end.
               OR (n.status = 'CANCELED' AND n.ended_at IS NULL AND n.canceled_at IS NULL
                   AND n.current_period_end IS NULL
                   AND o.updated_at IS DISTINCT FROM n.updated_at)));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER analytics_customer_mrr_subscription_insert
    AFTER INSERT ON billing_subscription REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_subscription();
CREATE TRIGGER analytics_customer_mrr_subscription_update
    AFTER UPDATE ON billing_subscription REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_subscription();
CREATE TRIGGER analytics_customer_mrr_subscription_delete
    AFTER DELETE ON billing_subscription REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_subscription();

-- The timeline is append-only (billing refuses UPDATE and DELETE): inserts are enough.
CREATE FUNCTION analytics_customer_mrr_on_plan_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM analytics_customer_mrr_refresh(ARRAY(
        SELECT s.user_id FROM new_rows e JOIN billing_subscription s ON s.id = e.subscription_id
        WHERE e.type = 'PLAN_CHANGED'));
    RETURN NULL;
END
$fn$;

CREATE TRIGGER analytics_customer_mrr_plan_change
    AFTER INSERT ON billing_subscriptionevent REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_plan_change();

-- The customers whose MRR reads any of these prices or plans: through a subscription's
-- price or plan, or through a plan change's recorded price or plan.
CREATE FUNCTION analytics_customer_mrr_customers_of(p_prices bigint[], p_plans bigint[])
RETURNS bigint[] LANGUAGE sql STABLE AS $fn$
    SELECT ARRAY(
        SELECT s.user_id FROM billing_subscription s
        WHERE s.price_id = ANY (p_prices) OR s.plan_id = ANY (p_plans)
        UNION
        SELECT s.user_id FROM billing_subscriptionevent e
        JOIN billing_subscription s ON s.id = e.subscription_id
        WHERE e.type = 'PLAN_CHANGED'
          AND ((e.payload ->> 'price')::bigint = ANY (p_prices)
               OR (e.payload ->> 'plan')::bigint = ANY (p_plans)))
$fn$;

CREATE FUNCTION analytics_customer_mrr_on_price() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_prices bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_prices := ARRAY(SELECT id FROM old_rows);
    ELSE
        v_prices := ARRAY(
            SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.unit_amount, o.currency, o.interval, o.interval_count)
                  IS DISTINCT FROM (n.unit_amount, n.currency, n.interval, n.interval_count));
    END IF;
    IF cardinality(v_prices) > 0 THEN
        PERFORM analytics_customer_mrr_refresh(analytics_customer_mrr_customers_of(
            v_prices,
            ARRAY(SELECT id FROM catalog_plan WHERE monthly_price_id = ANY (v_prices))));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER analytics_customer_mrr_price_update
    AFTER UPDATE ON catalog_price REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_price();
CREATE TRIGGER analytics_customer_mrr_price_delete
    AFTER DELETE ON catalog_price REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_price();

CREATE FUNCTION analytics_customer_mrr_on_plan() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_plans bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_plans := ARRAY(SELECT id FROM old_rows);
    ELSE
        v_plans := ARRAY(
            SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.monthly_price_id IS DISTINCT FROM n.monthly_price_id);
    END IF;
    IF cardinality(v_plans) > 0 THEN
        PERFORM analytics_customer_mrr_refresh(
            analytics_customer_mrr_customers_of(ARRAY[]::bigint[], v_plans));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER analytics_customer_mrr_plan_update
    AFTER UPDATE ON catalog_plan REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_plan();
CREATE TRIGGER analytics_customer_mrr_plan_delete
    AFTER DELETE ON catalog_plan REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_mrr_on_plan();

-- The customers who already have subscriptions.
SELECT analytics_customer_mrr_refresh(ARRAY(SELECT DISTINCT user_id FROM billing_subscription));
"""

DROP = r"""
DROP TRIGGER analytics_customer_mrr_plan_delete ON catalog_plan;
DROP TRIGGER analytics_customer_mrr_plan_update ON catalog_plan;
DROP TRIGGER analytics_customer_mrr_price_delete ON catalog_price;
DROP TRIGGER analytics_customer_mrr_price_update ON catalog_price;
DROP TRIGGER analytics_customer_mrr_plan_change ON billing_subscriptionevent;
DROP TRIGGER analytics_customer_mrr_subscription_delete ON billing_subscription;
DROP TRIGGER analytics_customer_mrr_subscription_update ON billing_subscription;
DROP TRIGGER analytics_customer_mrr_subscription_insert ON billing_subscription;
DROP FUNCTION analytics_customer_mrr_on_plan();
DROP FUNCTION analytics_customer_mrr_on_price();
DROP FUNCTION analytics_customer_mrr_customers_of(bigint[], bigint[]);
DROP FUNCTION analytics_customer_mrr_on_plan_change();
DROP FUNCTION analytics_customer_mrr_on_subscription();
DROP FUNCTION analytics_customer_mrr_refresh(bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("billing", "0016_promotion_codes"),
        ("catalog", "0007_merge_ratings_included_downloads"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerMRR",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                ("mrr", analytics.models.ExactNumericField()),
                ("subscriptions", models.PositiveIntegerField()),
                ("pays_after", models.DateTimeField()),
                ("pays_until", models.DateTimeField(null=True)),
                (
                    "customer",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "customer MRR span",
                "indexes": [
                    models.Index(fields=["pays_until"], name="analytics_customer_mrr_until")
                ],
            },
        ),
        migrations.RunSQL(sql=REFRESH + TRIGGERS, reverse_sql=DROP),
    ]
