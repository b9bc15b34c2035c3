"""credits_consume_v2: credits_consume_v1 with the caller's clock.

v1 stamped rows and judged lots overdue by the database server's clock. The rest of the
product (grants, expiry, the daily rollups, every other ledger writer) uses the application's
clock, so v2 takes the moment from the caller (``p_now``; NULL keeps the server's clock, for
callers without one such as pgbench) and is otherwise v1's body unchanged. v1 is dropped:
``credits.services.consume_credits`` calls v2 in the same commit.
"""

import importlib

from django.db import migrations

v1 = importlib.import_module("credits.migrations.0005_consume_v1")

SIGNATURE = "credits_consume_v2(bigint, text, integer, text, jsonb, timestamptz)"


def _v2(sql: str) -> str:
    body = sql.replace("credits_consume_v1(", "credits_consume_v2(", 1)
    body = body.replace("    p_details jsonb,\n",
                        "    p_details jsonb,\n    p_now timestamptz DEFAULT NULL,\n", 1)
    body = body.replace("    v_now := clock_timestamp();",
                        "    v_now := COALESCE(p_now, clock_timestamp());", 1)
    assert body.count("credits_consume_v2(") == 1 and "p_now timestamptz" in body \
        and "COALESCE(p_now" in body, "credits_consume_v1's text changed: review this migration"
    return body


CREATE = _v2(v1.CREATE)


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0007_ledger_time_index"),
    ]

    operations = [
        migrations.RunSQL(sql=CREATE, reverse_sql=f"DROP FUNCTION {SIGNATURE};"),
        migrations.RunSQL(sql=f"DROP FUNCTION {v1.SIGNATURE};", reverse_sql=v1.CREATE),
    ]
