"""The audit log and the run-time settings move from the accounts app to core.

Their tables stay where they are (``accounts_auditlog``, with its append-only trigger, and
``accounts_systemconfig``): only Django's idea of which app owns the models changes
(``accounts.0004`` drops them from accounts' state). Their content types move with them, so
the permissions and admin history that name them keep pointing at the same rows.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("auditlog", "systemconfig")


def move_content_types(apps, schema_editor, source="accounts", target="core"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if ContentType.objects.filter(app_label=target, model=model).exists():
            continue
        ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="core", target="accounts")


AUDIT_ACTIONS = [
    ('CREATE', 'Create'), ('UPDATE', 'Update'), ('DELETE', 'Delete'), ('LOGIN', 'Login'),
    ('LOGOUT', 'Logout'), ('LOGIN_FAILED', 'Login Failed'), ('STATUS_CHANGE', 'Status Change'),
    ('ROLE_CHANGE', 'Role Change'), ('EXPORT', 'Export'), ('REFUND', 'Refund'),
    ('CREDIT_GRANT', 'Credit Grant'), ('CREDIT_ADJUST', 'Credit Adjust'),
    ('CONFIG_CHANGE', 'Config Change'), ('APPROVAL', 'Approval'), ('OTHER', 'Other'),
]


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_finance_role'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_email', models.CharField(blank=True, max_length=254)),
                        ('action', models.CharField(choices=AUDIT_ACTIONS, max_length=32)),
                        ('resource_type', models.CharField(max_length=100)),
                        ('resource_id', models.CharField(blank=True, max_length=100)),
                        ('old_values', models.JSONField(blank=True, default=dict)),
                        ('new_values', models.JSONField(blank=True, default=dict)),
                        ('context', models.JSONField(blank=True, default=dict)),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                        ('user_agent', models.CharField(blank=True, max_length=500)),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_auditlog',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [
                            models.Index(fields=['resource_type', 'resource_id'], name='accounts_au_resourc_30880d_idx'),
                            models.Index(fields=['actor', '-created_at'], name='accounts_au_actor_i_48e6fd_idx'),
                            models.Index(fields=['action', '-created_at'], name='accounts_au_action_f18cdc_idx'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='SystemConfig',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('key', models.CharField(max_length=100, unique=True)),
                        ('value', models.JSONField()),
                        ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_systemconfig',
                        'verbose_name': 'system setting',
                        'ordering': ['key'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back, elidable=False),
    ]
