"""A short cache of the public catalog API's answers to anonymous readers.

Every anonymous visitor gets the same product list and product detail, so their data is kept
in the cache for ``CATALOG_PUBLIC_CACHE_SECONDS`` (default 30; 0 turns the cache off, as the
tests do) under a version token. ``catalog_changed()`` replaces the token after the commit of
any change to a product, price, variant, category or review made through the catalog's
services, its admin or its seed, so those show at once. The same seconds go out as
``Cache-Control: public, max-age``: a browser or CDN may show a change up to that long after
it, and so may this cache for rows changed elsewhere (stock sold at checkout, the Stripe sync).
"""

import hashlib
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from rest_framework.response import Response

DEFAULT_SECONDS = 30
VERSION_KEY = "catalog:public:version"


def seconds() -> int:
    return getattr(settings, "CATALOG_PUBLIC_CACHE_SECONDS", DEFAULT_SECONDS)


def catalog_changed() -> None:
    """Forget every cached public answer once the current transaction commits (at once
    outside a transaction)."""
    transaction.on_commit(_new_version)


def _new_version() -> None:
    cache.set(VERSION_KEY, secrets.token_hex(8), None)


def _version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = secrets.token_hex(8)
        if not cache.add(VERSION_KEY, version, None):  # another process set one first
            version = cache.get(VERSION_KEY) or version
    return version


def cached_for_anonymous(request, answer: Callable[[], HttpResponse]) -> HttpResponse:
    """``answer()``, or its data from the cache for an anonymous GET (a 200 is cached, any
    other status is not). Authentication, permissions and throttles have run already (DRF's
    ``initial()``); only the query and the serialization are saved."""
    ttl = seconds()
    if ttl <= 0 or request.method != "GET" or request.user.is_authenticated:
        return answer()
    # The whole URL: a page's "next" and "previous" links carry the scheme and host. An
    # answer written as JSON text (catalog.list_json) is kept as that text, under the
    # renderer's format, so a browser asking for the browsable API still gets its page.
    url = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
    key = f"catalog:public:{_version()}:{request.accepted_renderer.format}:{url}"
    kept = cache.get(key)
    if kept is None:
        response = answer()
        if response.status_code != 200:
            return response
        if isinstance(response, Response):
            cache.set(key, ("data", response.data), ttl)
        else:
            cache.set(key, ("json", response.content), ttl)
    elif kept[0] == "data":
        response = Response(kept[1])
    else:
        response = HttpResponse(kept[1], content_type="application/json")
    patch_cache_control(response, public=True, max_age=ttl)
    return response
