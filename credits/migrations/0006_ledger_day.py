"""credits_ledgerday: the ledger summed per user, UTC day, kind and operation, kept by a trigger.

The credits page and ``GET /api/v1/credits/`` read their usage chart and runway from it, so
their cost does not grow with the user's history. The ledger has more than one writer (the
Python services, the PL/pgSQL consume function, bulk inserts, COPY), so the database keeps the
sums itself: a statement-level AFTER INSERT trigger adds each statement's new rows, grouped, in
the writer's transaction. A rolled-back insert rolls its sums back with it. The ledger is
append-only (0002), so there are no UPDATE or DELETE cases to follow.

The trigger function is SECURITY INVOKER (the default): the application's role writes the
table with its ordinary privileges (core.dbroles grants every table that is not append-only).

Backfill: the ledger is locked against inserts (SHARE ROW EXCLUSIVE, the lock CREATE TRIGGER
takes anyway) before the trigger is created and the existing rows are summed, so every row is
counted exactly once: by the backfill if committed before the lock, by the trigger after it.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

FUNCTION = "credits_ledgerday_add"

SUMS = """
    SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, kind, operation, COUNT(*), SUM(amount)
      FROM {source}
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
"""

CREATE = f"""
LOCK TABLE credits_credittransaction IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION {FUNCTION}() RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    -- Grouped, so one statement touches each (user, day, kind, operation) once; in key order,
    -- so two multi-user inserts lock the rows they share in the same order.
    INSERT INTO credits_ledgerday AS d (user_id, day, kind, operation, row_count, amount)
    {SUMS.format(source="new_rows")}
    ON CONFLICT (user_id, day, kind, operation) DO UPDATE
       SET row_count = d.row_count + EXCLUDED.row_count,
           amount = d.amount + EXCLUDED.amount,
           updated_at = now();
    RETURN NULL;
END;
$function$;

CREATE TRIGGER {FUNCTION}
    AFTER INSERT ON credits_credittransaction
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();

INSERT INTO credits_ledgerday (user_id, day, kind, operation, row_count, amount)
{SUMS.format(source="credits_credittransaction")};

ANALYZE credits_ledgerday;
"""

DROP = f"""
DROP TRIGGER IF EXISTS {FUNCTION} ON credits_credittransaction;
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("credits", "0005_consume_v1"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("day", models.DateField()),
                ("kind", models.CharField(choices=[("GRANT", "Grant"), ("CONSUME", "Consume"),
                                                   ("REFUND", "Refund"), ("EXPIRE", "Expire"),
                                                   ("ADJUST", "Adjustment")], max_length=8)),
                ("operation", models.CharField(blank=True, max_length=64)),
                ("row_count", models.PositiveIntegerField()),
                ("amount", models.BigIntegerField()),
                ("created_at", models.DateTimeField(
                    db_default=django.db.models.functions.datetime.Now())),
                ("updated_at", models.DateTimeField(
                    db_default=django.db.models.functions.datetime.Now())),
                ("user", models.ForeignKey(db_index=False,
                                           on_delete=django.db.models.deletion.PROTECT,
                                           related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["user", "day", "kind", "operation"],
                "constraints": [models.UniqueConstraint(
                    fields=("user", "day", "kind", "operation"),
                    name="credits_ledgerday_unique")],
            },
        ),
        migrations.RunSQL(sql=CREATE, reverse_sql=DROP),
    ]
