from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"

    def ready(self):
        from accounts import seed_steps  # noqa: PLC0415 - models load after apps.py

        # Importing the metric modules registers their families, in dashboard order.
        from analytics.metrics import (  # noqa: F401, PLC0415 - models load after apps.py
            credits,
            customers,
            revenue,
            subscriptions,
            support,
        )

        seed_steps.register("analytics", seed_steps.command_step("seed_analytics"), order=60)
