"""Fixtures of the project-wide tests."""

import pytest


@pytest.fixture
def stripe_no_network(settings):
    """Stripe keys are absent: Stripe-side actions refuse at once instead of calling out."""
    settings.STRIPE_SECRET_KEY = ""
    return settings
