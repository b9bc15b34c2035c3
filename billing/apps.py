from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from accounts import data_export
        from billing import config_keys  # noqa: F401
        from billing.data_export import orders_section, subscriptions_section

        data_export.register("orders", orders_section)
        data_export.register("subscriptions", subscriptions_section)
