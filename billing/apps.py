from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from accounts import data_export, deletion  # noqa: PLC0415 - models load after apps.py
        from billing import config_keys, executors  # noqa: F401, PLC0415 - models load after apps.py
        from billing.data_export import orders_section, subscriptions_section  # noqa: PLC0415 - models load after apps.py
        from billing.services.closure import deletion_preview, settle_for_account_deletion  # noqa: PLC0415 - models load after apps.py

        data_export.register("orders", orders_section)
        data_export.register("subscriptions", subscriptions_section)
        # Deleting an account cancels its subscriptions and voids its open invoices first.
        deletion.register("billing", preview=deletion_preview, settle=settle_for_account_deletion)
        executors.register()
        # Credits asks billing what the customer's plan gives (cost overrides, entitlements).
        from billing import entitlements  # noqa: PLC0415 - models load after apps.py
        from billing.selectors import plan_for_user  # noqa: PLC0415 - models load after apps.py
        from credits import plans  # noqa: PLC0415 - models load after apps.py

        plans.register(
            plan_for_user=plan_for_user,
            # From the API key's cached entry when the request came with one.
            entitlements_for=entitlements.current_entitlements,
            upgrade_prompt=entitlements.upgrade_prompt,
            require_entitlement=entitlements.require_entitlement,
        )
        # The API's permission asks the same (accounts.entitlements), from the key's cache.
        entitlements.connect()
        # The catalog asks billing about purchases (verified reviews, cart limit, pricing).
        from billing.selectors import customer_has_completed_order  # noqa: PLC0415 - models load after apps.py
        from billing.services.cart import quantity_limit  # noqa: PLC0415 - models load after apps.py
        from billing.services.subscriptions.lifecycle import sold_by, trial_days_for  # noqa: PLC0415 - models load after apps.py
        from catalog import purchases  # noqa: PLC0415 - models load after apps.py

        purchases.register(
            verified_purchase=customer_has_completed_order,
            quantity_limit=quantity_limit,
            sold_by=sold_by,
            trial_days_for=trial_days_for,
            download_included=entitlements.download_included,
        )
        # seed_demo: demo orders right after the catalog, demo subscriptions after credits.
        from accounts import seed_steps  # noqa: PLC0415 - models load after apps.py
        from billing import seed_steps as billing_seed_steps  # noqa: PLC0415 - models load after apps.py

        seed_steps.register("billing.orders", billing_seed_steps.seed_orders, order=25)
        seed_steps.register("billing", seed_steps.command_step("seed_billing"), order=40)
        # Every Stripe call from now on (ours and dj-stripe's) uses our base URL and version.
        from billing import receipts  # noqa: PLC0415 - models load after apps.py
        from billing.stripe import client as stripe_client  # noqa: PLC0415 - models load after apps.py
        from billing.stripe import mirror as stripe_mirror  # noqa: PLC0415 - models load after apps.py

        stripe_client.configure()
        stripe_mirror.install()
        receipts.connect()
        # The Stripe event handlers register per event type on import (a Checkout Session's
        # handlers each act on one mode: payment for orders, subscription for subscriptions).
        from billing.stripe import order_events, subscription_events  # noqa: F401, PLC0415 - models load after apps.py
