"""Which operations need a plan entitlement is remembered per process for a few seconds (a
consume stays one round trip), and a change to a feature cost made in the process applies at
once."""

import pytest

from credits import services
from credits.factories import FeatureCostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def remembered(settings):
    settings.CREDITS_ENTITLEMENTS_CACHE_SECONDS = 60
    services.forget_required_entitlements()
    yield
    services.forget_required_entitlements()


def test_the_requirements_are_read_once_then_remembered(remembered, django_assert_num_queries):
    FeatureCostFactory(operation="AI_VIDEO", required_entitlement="ai_video")
    FeatureCostFactory(operation="AI_TEXT")
    with django_assert_num_queries(1):
        assert services.required_entitlements() == {"AI_VIDEO": "ai_video"}
    with django_assert_num_queries(0):
        assert services.required_entitlements() == {"AI_VIDEO": "ai_video"}


def test_a_changed_or_deleted_feature_cost_applies_at_once(remembered):
    video = FeatureCostFactory(operation="AI_VIDEO", required_entitlement="ai_video")
    assert services.required_entitlements() == {"AI_VIDEO": "ai_video"}

    video.required_entitlement = "studio_video"
    video.save()
    assert services.required_entitlements() == {"AI_VIDEO": "studio_video"}

    video.delete()
    assert services.required_entitlements() == {}
