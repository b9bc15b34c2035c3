"""The audit log and the run-time settings now belong to core (core.0001): accounts forgets
them; their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_finance_role'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AuditLog'),
                migrations.DeleteModel(name='SystemConfig'),
            ],
            database_operations=[],
        ),
    ]
