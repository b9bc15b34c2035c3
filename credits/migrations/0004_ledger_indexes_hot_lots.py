"""Fewer indexes for every ledger write, and lot draws that PostgreSQL does in place.

- The ledger's foreign-key indexes on ``user`` (every other index starts with the user) and
  ``actor`` (now partial: only rows with an actor), and ``credits_txn_user_kind_idx`` (its
  readers filter a window of a user's rows, which ``credits_txn_user_time_idx`` serves), go;
  so does the lot rows' index on ``transaction`` (``credits_transactionlot_unique`` starts
  with it).
- ``CreditGrant.has_credits`` (remaining > 0, generated and stored) replaces ``remaining`` in
  the live-lots index's condition, so a draw that leaves credits in its lot is a HOT update.
  Adding the stored column rewrites credits_creditgrant once.
- The balance and lot tables keep 10% of each page free (fillfactor 90) for those in-place
  updates of the same rows.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("credits", "0003_invariant_check"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="creditgrant",
            name="credits_grant_live_idx",
        ),
        migrations.RemoveIndex(
            model_name="credittransaction",
            name="credits_txn_user_kind_idx",
        ),
        migrations.AddField(
            model_name="creditgrant",
            name="has_credits",
            field=models.GeneratedField(db_persist=True,
                                        expression=models.Q(("remaining__gt", 0)),
                                        output_field=models.BooleanField()),
        ),
        migrations.AlterField(
            model_name="credittransaction",
            name="actor",
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="credittransaction",
            name="user",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="credit_transactions",
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="transactionlot",
            name="transaction",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="lots", to="credits.credittransaction"),
        ),
        migrations.AddIndex(
            model_name="creditgrant",
            index=models.Index(condition=models.Q(("expired_at__isnull", True),
                                                  ("has_credits", True)),
                               fields=["user", "expires_at", "id"],
                               name="credits_grant_live_idx"),
        ),
        migrations.AddIndex(
            model_name="credittransaction",
            index=models.Index(condition=models.Q(("actor__isnull", False)), fields=["actor"],
                               name="credits_txn_actor_idx"),
        ),
        migrations.RunSQL(
            sql="ALTER TABLE credits_creditbalance SET (fillfactor = 90);"
                "ALTER TABLE credits_creditgrant SET (fillfactor = 90);",
            reverse_sql="ALTER TABLE credits_creditbalance RESET (fillfactor);"
                        "ALTER TABLE credits_creditgrant RESET (fillfactor);",
        ),
    ]
