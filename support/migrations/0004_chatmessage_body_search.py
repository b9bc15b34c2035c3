"""Full-text search of help-bot messages for the staff console (config.admin.by_full_text),
built CONCURRENTLY so the bot keeps writing meanwhile."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('support', '0003_article_embedding'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='chatmessage',
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector('body', config='english'),
                name='chatmessage_body_search'),
        ),
    ]
