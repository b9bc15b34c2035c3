import pytest
from django.core.cache import cache

from credits.factories import FeatureCostFactory
from credits.invariant import check_invariant
from credits.selectors import ledger_day_differences


@pytest.fixture(autouse=True)
def _books_balance_after_every_test(db):
    """Whatever a test did, the books must agree afterwards (balance = ledger = lots), and
    the daily sums the pages read must equal the ledger."""
    cache.clear()  # SystemConfig values are cached; each test starts from the defaults
    yield
    assert check_invariant() == []
    assert ledger_day_differences() == []


@pytest.fixture
def chat(db):
    return FeatureCostFactory(operation="AI_TEXT_CHAT", name="Text chat", cost=5)


@pytest.fixture
def video(db):
    return FeatureCostFactory(operation="AI_VIDEO_GENERATION", name="Video", cost=40)
