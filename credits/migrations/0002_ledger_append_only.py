from django.db import migrations

from core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [
        append_only("credits_credittransaction"),
        append_only("credits_transactionlot"),
    ]
