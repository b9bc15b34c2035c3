"""Run-time settings read while the database fails: the cached value, else the declared
default, and never a query."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import SystemConfig
from core.system_config import CACHE_PREFIX, REGISTRY, get_config, get_config_without_database


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.delete(CACHE_PREFIX + "business_name")
    yield
    cache.delete(CACHE_PREFIX + "business_name")


@pytest.mark.django_db
def test_without_a_cached_value_the_declared_default_answers_without_a_query():
    SystemConfig.objects.create(key="business_name", value="Stored Name Ltd")

    with CaptureQueriesContext(connection) as queries:
        name = get_config_without_database("business_name")

    assert name == REGISTRY["business_name"].default
    assert len(queries) == 0


@pytest.mark.django_db
def test_once_read_the_stored_value_answers_without_a_query():
    SystemConfig.objects.create(key="business_name", value="Stored Name Ltd")
    assert get_config("business_name") == "Stored Name Ltd"  # now cached

    with CaptureQueriesContext(connection) as queries:
        name = get_config_without_database("business_name")

    assert name == "Stored Name Ltd"
    assert len(queries) == 0


def test_an_undeclared_key_is_refused():
    with pytest.raises(KeyError):
        get_config_without_database("no_such_setting")
