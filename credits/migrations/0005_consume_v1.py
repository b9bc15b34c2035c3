"""credits_consume_v1: the whole consume movement in one PL/pgSQL function, one round trip.

``credits.services.consume_credits`` validates its arguments and calls it with one SELECT.
This migration is the function's only definition: a change is a new function
(credits_consume_v2) in a new migration, and the service switches to it in the same commit;
this file is never edited once applied.

What it does is what the Python service did, in the same order and with the same locks:

1. Lock the user's CreditBalance row (the lock order of every credits movement). A user
   without one has nothing to consume.
2. Replay: a ledger row with the same idempotency key is returned as it is ("replayed"), or
   refused ("conflict") if it was not a CONSUME of the same operation and quantity.
3. Cost: the active FeatureCost, or the override in the plan of the user's current
   subscription (billing.selectors.current_subscription: ACTIVE or TRIALING, or PAST_DUE within
   PAST_DUE_GRACE, the most recently started first). An override that is not a whole number
   >= 1 is ignored and reported back, so Python can log it. Unknown or inactive operation:
   "unknown_operation".
4. Lots, first to expire first (credits_grant_live_idx), locked one by one as they are read: overdue lots (they come
   first in that order) are collected; if what is left after expiring them does not cover the
   cost: "insufficient", and nothing is written. Otherwise each overdue lot is expired (an
   EXPIRE row keyed "expire:lot:<id>", as services.expire_credits writes it) and the cost is
   drawn from the next lots; only the lots drawn from are locked.
5. One CONSUME row, its lot rows, one UPDATE of the balance (with the low-balance flag as the
   Python service kept it, step by step) and, when the balance crosses below
   ``low_balance_threshold``, the outbox row ``core.outbox.enqueue`` would have written for
   credits.tasks.send_low_balance_email; the caller publishes it after the commit.

Constants that live in Python too (the task name, the default threshold, PAST_DUE_GRACE) are
compared with their Python values by credits/tests/test_consume_function.py.

SECURITY INVOKER (the default): the function has exactly the caller's privileges, so the
application's role still cannot UPDATE or DELETE the ledger through it.
"""

from django.db import migrations

SIGNATURE = "credits_consume_v1(bigint, text, integer, text, jsonb)"

CREATE = r"""
CREATE FUNCTION credits_consume_v1(
    p_user_id bigint,
    p_operation text,
    p_quantity integer,
    p_idempotency_key text,
    p_details jsonb,
    OUT outcome text,            -- consumed | replayed | insufficient | unknown_operation | conflict
    OUT txn_id bigint,
    OUT txn_kind text,
    OUT txn_operation text,
    OUT txn_quantity integer,
    OUT txn_amount integer,
    OUT txn_balance_after integer,
    OUT txn_details jsonb,
    OUT txn_idempotency_key text,
    OUT txn_created_at timestamptz,
    OUT balance_now integer,     -- insufficient: the balance once overdue lots are expired
    OUT cost_total numeric,      -- insufficient: what the call needed
    OUT outbox_id bigint,        -- the low-balance e-mail's outbox row, to publish after commit
    OUT override_plan_id bigint, -- an override that was ignored: its plan and raw JSON value
    OUT ignored_override text
)
LANGUAGE plpgsql
AS $function$
DECLARE
    v_key text := COALESCE(p_idempotency_key, '');
    v_now timestamptz;
    v_balance_id bigint;
    v_balance integer;
    v_flag boolean;
    v_notify boolean := false;
    v_threshold integer;
    v_unit numeric;
    v_override jsonb;
    v_cost numeric;
    v_first record;
    v_lots refcursor;
    v_lot record;
    v_have_lot boolean;
    v_overdue_ids bigint[] := '{}';
    v_overdue_left integer[] := '{}';
    v_overdue_dates timestamptz[] := '{}';
    v_overdue_sources text[] := '{}';
    v_expiring integer := 0;
    v_running integer;
    v_left integer;
    v_take integer;
    v_row_id bigint;
    v_draw_ids bigint[] := '{}';
    v_draw_amounts integer[] := '{}';
BEGIN
    IF p_quantity IS NULL OR p_quantity < 1 THEN
        RAISE EXCEPTION 'credits_consume_v1: quantity must be at least 1, got %', p_quantity
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. The balance row first: it serialises every movement of this user's credits.
    SELECT b.id, b.balance, b.low_balance_notified INTO v_balance_id, v_balance, v_flag
      FROM credits_creditbalance b WHERE b.user_id = p_user_id FOR UPDATE;
    -- After the lock wait, so time order matches ledger order.
    v_now := clock_timestamp();

    -- 2. The same key again: the first row, or a conflict. ("<> ''" lets the planner use the
    -- partial unique index in a generic plan.)
    IF v_key <> '' THEN
        SELECT t.id, t.kind, t.operation, t.quantity, t.amount, t.balance_after, t.details,
               t.idempotency_key, t.created_at
          INTO v_first
          FROM credits_credittransaction t
         WHERE t.user_id = p_user_id AND t.idempotency_key = v_key AND t.idempotency_key <> '';
        IF FOUND THEN
            outcome := CASE WHEN v_first.kind = 'CONSUME' AND v_first.operation = p_operation
                                 AND v_first.quantity = p_quantity
                            THEN 'replayed' ELSE 'conflict' END;
            txn_id := v_first.id;
            txn_kind := v_first.kind;
            txn_operation := v_first.operation;
            txn_quantity := v_first.quantity;
            txn_amount := v_first.amount;
            txn_balance_after := v_first.balance_after;
            txn_details := v_first.details;
            txn_idempotency_key := v_first.idempotency_key;
            txn_created_at := v_first.created_at;
            RETURN;
        END IF;
    END IF;

    -- 3. What one unit costs this user.
    SELECT f.cost INTO v_unit
      FROM credits_featurecost f WHERE f.operation = p_operation AND f.active;
    IF NOT FOUND THEN
        outcome := 'unknown_operation';
        RETURN;
    END IF;
    SELECT s.plan_id, p.feature_cost_overrides -> p_operation INTO override_plan_id, v_override
      FROM billing_subscription s JOIN catalog_plan p ON p.id = s.plan_id
     WHERE s.user_id = p_user_id
       AND (s.status IN ('ACTIVE', 'TRIALING')
            OR (s.status = 'PAST_DUE' AND s.past_due_since >= v_now - interval '7 days')
            OR (s.status = 'PAST_DUE' AND s.past_due_since IS NULL
                AND s.current_period_end >= v_now - interval '7 days'))
     ORDER BY s.current_period_start DESC, s.id DESC
     LIMIT 1;
    IF v_override IS NOT NULL THEN
        IF jsonb_typeof(v_override) = 'number' AND v_override::text ~ '^[0-9]+$'
           AND v_override::text::numeric >= 1 THEN
            v_unit := v_override::text::numeric;
            override_plan_id := NULL;
        ELSE
            ignored_override := v_override::text;
        END IF;
    ELSE
        override_plan_id := NULL;
    END IF;
    v_cost := v_unit * p_quantity;

    IF v_balance_id IS NULL THEN
        outcome := 'insufficient';
        balance_now := 0;
        cost_total := v_cost;
        RETURN;
    END IF;

    -- 4. Lots in drawing order, each locked as it is read. Overdue lots sort first.
    OPEN v_lots FOR
        SELECT g.id, g.remaining, g.expires_at, g.source
          FROM credits_creditgrant g
         WHERE g.user_id = p_user_id AND g.expired_at IS NULL AND g.has_credits
         ORDER BY g.expires_at ASC NULLS LAST, g.id
           FOR UPDATE;
    LOOP
        FETCH v_lots INTO v_lot;
        v_have_lot := FOUND;
        EXIT WHEN NOT v_have_lot OR v_lot.expires_at IS NULL OR v_lot.expires_at > v_now;
        v_overdue_ids := v_overdue_ids || v_lot.id;
        v_overdue_left := v_overdue_left || v_lot.remaining;
        v_overdue_dates := v_overdue_dates || v_lot.expires_at;
        v_overdue_sources := v_overdue_sources || v_lot.source::text;
        v_expiring := v_expiring + v_lot.remaining;
    END LOOP;
    IF v_balance - v_expiring < v_cost THEN
        -- Nothing written, not even the expiry (the hourly task does that).
        CLOSE v_lots;
        outcome := 'insufficient';
        balance_now := v_balance - v_expiring;
        cost_total := v_cost;
        RETURN;
    END IF;

    SELECT (c.value #>> '{}')::integer INTO v_threshold
      FROM accounts_systemconfig c WHERE c.key = 'low_balance_threshold';
    v_threshold := COALESCE(v_threshold, 20);
    v_running := v_balance;

    -- 5a. Expire the overdue lots, one EXPIRE row each (the shape expire_credits writes).
    FOR i IN 1 .. COALESCE(array_length(v_overdue_ids, 1), 0) LOOP
        UPDATE credits_creditgrant SET remaining = 0, expired_at = v_now, updated_at = v_now
         WHERE id = v_overdue_ids[i];
        v_running := v_running - v_overdue_left[i];
        INSERT INTO credits_credittransaction
               (user_id, kind, operation, quantity, amount, balance_after, details,
                idempotency_key, refund_of_id, actor_id, created_at)
        VALUES (p_user_id, 'EXPIRE', '', NULL, -v_overdue_left[i], v_running,
                jsonb_build_object(
                    'grant_id', v_overdue_ids[i],
                    'source', v_overdue_sources[i],
                    -- datetime.isoformat() of the UTC value: microseconds only when not 0
                    'expires_at',
                    to_char(v_overdue_dates[i] AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                    || CASE WHEN extract(microseconds FROM v_overdue_dates[i] AT TIME ZONE 'UTC')
                                 % 1000000 = 0 THEN ''
                            ELSE to_char(v_overdue_dates[i] AT TIME ZONE 'UTC', '.US') END
                    || '+00:00'),
                'expire:lot:' || v_overdue_ids[i], NULL, NULL, v_now)
        RETURNING id INTO v_row_id;
        INSERT INTO credits_transactionlot (transaction_id, grant_id, amount)
        VALUES (v_row_id, v_overdue_ids[i], -v_overdue_left[i]);
        IF v_running < v_threshold AND NOT v_flag THEN
            v_notify := true;
            v_flag := true;
        ELSIF v_running >= v_threshold THEN
            v_flag := false;
        END IF;
    END LOOP;

    -- 5b. Draw the cost, first to expire first.
    v_left := v_cost;
    WHILE v_left > 0 LOOP
        IF NOT v_have_lot THEN
            -- Unreachable while the invariant holds; refuse rather than let the ledger diverge.
            RAISE EXCEPTION 'credits: balance % not backed by live lots for user %',
                v_balance, p_user_id USING ERRCODE = 'data_exception';
        END IF;
        v_take := LEAST(v_lot.remaining, v_left);
        UPDATE credits_creditgrant SET remaining = remaining - v_take, updated_at = v_now
         WHERE id = v_lot.id;
        v_draw_ids := v_draw_ids || v_lot.id;
        v_draw_amounts := v_draw_amounts || -v_take;
        v_left := v_left - v_take;
        IF v_left > 0 THEN
            FETCH v_lots INTO v_lot;
            v_have_lot := FOUND;
        END IF;
    END LOOP;
    CLOSE v_lots;

    v_running := v_running - v_cost::integer;
    INSERT INTO credits_credittransaction
           (user_id, kind, operation, quantity, amount, balance_after, details,
            idempotency_key, refund_of_id, actor_id, created_at)
    VALUES (p_user_id, 'CONSUME', p_operation, p_quantity, -v_cost::integer, v_running,
            COALESCE(p_details, '{}'::jsonb), v_key, NULL, NULL, v_now)
    RETURNING id INTO v_row_id;
    INSERT INTO credits_transactionlot (transaction_id, grant_id, amount)
    SELECT v_row_id, d.grant_id, d.amount
      FROM unnest(v_draw_ids, v_draw_amounts) AS d(grant_id, amount);
    IF v_running < v_threshold AND NOT v_flag THEN
        v_notify := true;
        v_flag := true;
    ELSIF v_running >= v_threshold THEN
        v_flag := false;
    END IF;

    UPDATE credits_creditbalance
       SET balance = balance - (v_expiring + v_cost::integer),
           low_balance_notified = v_flag, updated_at = v_now
     WHERE id = v_balance_id;

    IF v_notify THEN
        -- The row core.outbox.enqueue(send_low_balance_email, user_id) writes.
        INSERT INTO outbox_outboxmessage
               (task, args, kwargs, created_at, published_at, claimed_until, attempts,
                last_error, completed_at)
        VALUES ('credits.tasks.send_low_balance_email', jsonb_build_array(p_user_id),
                '{}'::jsonb, v_now, NULL, NULL, 0, '', NULL)
        RETURNING id INTO outbox_id;
    END IF;

    outcome := 'consumed';
    txn_id := v_row_id;
    txn_kind := 'CONSUME';
    txn_operation := p_operation;
    txn_quantity := p_quantity;
    txn_amount := -v_cost::integer;
    txn_balance_after := v_running;
    txn_details := COALESCE(p_details, '{}'::jsonb);
    txn_idempotency_key := v_key;
    txn_created_at := v_now;
END;
$function$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0004_ledger_indexes_hot_lots"),
        # Tables the function reads or writes besides the credits ones.
        ("accounts", "0001_initial"),
        ("billing", "0001_initial"),
        ("catalog", "0001_initial"),
        ("outbox", "0002_completed_at"),
    ]

    operations = [
        migrations.RunSQL(sql=CREATE, reverse_sql=f"DROP FUNCTION {SIGNATURE};"),
    ]
