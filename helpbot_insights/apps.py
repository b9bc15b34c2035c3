from django.apps import AppConfig


class HelpbotInsightsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpbot_insights"
    verbose_name = "Help-bot insights"
