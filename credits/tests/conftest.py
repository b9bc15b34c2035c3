import pytest
from django.core.cache import cache

from credits.factories import FeatureCostFactory
from credits.services import check_invariant


@pytest.fixture(autouse=True)
def _books_balance_after_every_test(db):
    """Whatever a test did, the books must agree afterwards (balance = ledger = lots)."""
    cache.clear()  # SystemConfig values are cached; each test starts from the defaults
    yield
    assert check_invariant() == []


@pytest.fixture
def chat(db):
    return FeatureCostFactory(operation="AI_TEXT_CHAT", name="Text chat", cost=5)


@pytest.fixture
def video(db):
    return FeatureCostFactory(operation="AI_VIDEO_GENERATION", name="Video", cost=40)
