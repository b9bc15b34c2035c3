import pytest
from django.core.cache import cache

# The billing app's local Stripe double (an HTTP server; nothing reaches Stripe), for the
# ticket panel's actions on Stripe-managed subscriptions.
from billing.tests.conftest import _stripe_server, stripe_double  # noqa: F401
from support import services
from support.models import TicketPriority


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    # SystemConfig values are cached; tests that change one must not leak into the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def open_ticket(customer):
    def make(**kwargs):
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("subject", "Invoice shows the wrong amount")
        kwargs.setdefault("description", "My March invoice charged me twice.")
        kwargs.setdefault("priority", TicketPriority.MEDIUM)
        return services.open_ticket(**kwargs)

    return make


@pytest.fixture
def ticket(open_ticket):
    return open_ticket()
