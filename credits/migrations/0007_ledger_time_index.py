"""The ledger across users by time, for the staff console's list (newest first), its date
hierarchy and date filters. Built CONCURRENTLY: consumption keeps writing meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("credits", "0006_ledger_day"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="credittransaction",
            index=models.Index(fields=["-created_at", "-id"], name="credits_txn_time_idx"),
        ),
    ]
