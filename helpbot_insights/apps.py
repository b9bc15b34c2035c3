from django.apps import AppConfig


class HelpbotInsightsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpbot_insights"
    verbose_name = "Help-bot insights"

    def ready(self):
        from accounts import seed_steps  # noqa: PLC0415 - models load after apps.py
        from helpbot_insights import metrics  # noqa: F401, PLC0415 - models load after apps.py; registers the daily metrics
        from helpbot_insights.demo import (  # noqa: PLC0415 - models load after apps.py
            seed_unanswered,
        )

        # After the analytics history (60), whose days it rolls up again.
        seed_steps.register("helpbot_insights", seed_unanswered, order=65)
