from django.apps import AppConfig


class HelpbotInsightsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpbot_insights"
    verbose_name = "Help-bot insights"

    def ready(self):
        from helpbot_insights import metrics  # noqa: F401, PLC0415 - models load after apps.py; registers the daily metrics
