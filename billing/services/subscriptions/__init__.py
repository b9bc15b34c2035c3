"""Subscriptions, by job: ``state`` (the names every part shares), ``lifecycle`` (subscribe,
cancel, resume, trials, free periods), ``plan_change``, ``renewal`` (manual billing's
periodic pass) and ``stripe_adapter`` (Stripe's subscription -> our record). What differs
between a Stripe-billed and a manual subscription is in one of two ``backends``."""
