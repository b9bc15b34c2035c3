from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = "Support desk"

    def ready(self):
        from accounts import data_export
        from support import approvals, billing_notes, config_keys, selectors  # noqa: F401

        # Tickets (public thread only: never internal notes) and help-bot conversations.
        data_export.register("support", selectors.export_customer_data)
        # Refunds and disputes of a customer's invoices are noted on their open tickets.
        billing_notes.connect()
