"""Billing's Stripe side: the API client (``client``), the webhook signature check
(``signature``), the event inbox (``inbox``) and the handlers registered per event type
(``events``; ``order_events`` and ``subscription_events`` register in BillingConfig.ready),
catalog sync (``sync``), dj-stripe's mirror (``mirror``) and reconciliation.

Modules here import the Stripe library with ``import stripe`` (absolute: the library, never
this package); this package is ``billing.stripe``."""
