from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = "Support desk"

    def ready(self):
        from accounts import data_export, seed_steps  # noqa: PLC0415 - models load after apps.py
        from support import (  # noqa: F401, PLC0415 - models load after apps.py
            approvals,
            billing_notes,
            config_keys,
            selectors,
            webhook_events,  # connects the ticket events
        )

        # Tickets (public thread only: never internal notes) and help-bot conversations.
        data_export.register("support", selectors.export_customer_data)
        # Refunds and disputes of a customer's invoices are noted on their open tickets.
        billing_notes.connect()
        seed_steps.register(
            "support",
            seed_steps.command_step(
                "seed_support",
                "--customer-email",
                "alice@demo.example",
                "--customer-email",
                "bob@demo.example",
                "--staff-email",
                "support@demo.example",
            ),
            order=50,
        )
