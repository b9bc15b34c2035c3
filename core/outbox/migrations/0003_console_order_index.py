"""The staff console's order (waiting rows first, then the newest) gets its index, which also
serves the pruning the plain published_at index served; built before that one goes, both
CONCURRENTLY so tasks keep being queued meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('outbox', '0002_completed_at'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='outboxmessage',
            index=models.Index(models.OrderBy(models.F('published_at'), nulls_first=True),
                               models.OrderBy(models.F('id'), descending=True),
                               name='outbox_published_id_idx'),
        ),
        RemoveIndexConcurrently(
            model_name='outboxmessage',
            name='outbox_published_at_idx',
        ),
    ]
