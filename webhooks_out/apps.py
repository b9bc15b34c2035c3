from django.apps import AppConfig


class WebhooksOutConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks_out"
    verbose_name = "Webhooks out"

    def ready(self):
        from webhooks_out import signals  # noqa: F401, PLC0415 - models load after apps.py; connects the event hooks
