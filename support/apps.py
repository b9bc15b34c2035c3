from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = "Support desk"

    def ready(self):
        from accounts import data_export, seed_steps  # noqa: PLC0415 - models load after apps.py
        from support import approvals, config_keys, selectors  # noqa: F401, PLC0415 - models load after apps.py

        # Tickets (public thread only: never internal notes) and help-bot conversations.
        data_export.register("support", selectors.export_customer_data)
        seed_steps.register("support", seed_steps.command_step(
            "seed_support", "--customer-email", "alice@demo.example", "--customer-email",
            "bob@demo.example", "--staff-email", "support@demo.example"), order=50)
