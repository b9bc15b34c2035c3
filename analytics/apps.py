from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"

    def ready(self):
        from accounts import seed_steps

        # Importing the metric modules registers their families, in dashboard order.
        from analytics.metrics import (  # noqa: F401
            credits,
            customers,
            revenue,
            subscriptions,
            support,
        )

        seed_steps.register("analytics", seed_steps.command_step("seed_analytics"), order=60)
