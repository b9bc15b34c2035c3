import os

import pytest

from social_signin.tests.fake_provider import FakeProvider


@pytest.fixture
def provider():
    running = FakeProvider(int(os.environ["FAKE_OAUTH_PORT"])).start()
    yield running
    running.stop()
