import pytest

from webhooks_out import services
from webhooks_out.tests.receiver import Receiver


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def register(admin_user):
    def make(url, event_types):
        endpoint, secret = services.register(url=url, event_types=event_types, actor=admin_user)
        return endpoint, secret

    return make
