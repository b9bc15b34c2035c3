from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from accounts import data_export, deletion
        from billing import config_keys, executors  # noqa: F401
        from billing.data_export import orders_section, subscriptions_section
        from billing.services.closure import deletion_preview, settle_for_account_deletion

        data_export.register("orders", orders_section)
        data_export.register("subscriptions", subscriptions_section)
        # Deleting an account cancels its subscriptions and voids its open invoices first.
        deletion.register("billing", preview=deletion_preview,
                          settle=settle_for_account_deletion)
        executors.register()
        # Every Stripe call from now on (ours and dj-stripe's) uses our base URL and version.
        from billing import receipts
        from billing.stripe import client as stripe_client
        from billing.stripe import mirror as stripe_mirror

        stripe_client.configure()
        stripe_mirror.install()
        receipts.connect()
        # The Stripe event handlers register per event type on import (a Checkout Session's
        # handlers each act on one mode: payment for orders, subscription for subscriptions).
        from billing.stripe import order_events, subscription_events  # noqa: F401
