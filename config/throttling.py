"""Rate limits: how many requests a client may send per scope, counted in the shared cache.

Every API request counts against ``user`` (per API key, else per signed-in user) or ``anon``
(per IP). The routes worth abusing also count against a tighter scope of their own (``ROUTES``:
sign-up, sign-in and key creation, password reset, credits consumption, the help bot, new
tickets, the Stripe webhook). API views get both through DRF's throttle classes
(``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``); the server-rendered pages and the webhook
get the route scopes through ``RouteThrottleMiddleware``. Rates come from ``RATE_LIMITS``
(``RATE_LIMIT_<SCOPE>`` in the environment, config.env).

A refused request answers 429 with ``Retry-After`` (the API's JSON error with code
``throttled``; a page for browsers) and is counted per scope for /metrics and /ops/.

Why not DRF's own SimpleRateThrottle: it keeps each client's request times in one cache entry
that it reads, edits and writes back, so two web workers answering the same client at once
each write their own copy and one of the two requests is forgotten; under load the limit
leaks. Here each window is a counter that the cache increments atomically (Redis INCR), so
every worker counts into the same number.
"""

import contextlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework.throttling import BaseThrottle

from config.middleware import business_name_offline
from core.request_context import client_ip

# URL name -> scope, for POSTs (every route here creates something or checks a password).
ROUTES = {
    "api:auth-signup": "signup",
    "account_signup": "signup",
    "api:auth-token": "token",
    "account_login": "token",
    "api:me-api-keys": "token",
    "accounts:create_api_key": "token",
    "account_reset_password": "password_reset",
    "api:credits-consume": "credits_consume",
    "api:support-chat": "chat",
    "api:support-tickets": "ticket_create",
    "api:support-chat-handoff": "ticket_create",
    "support:ticket_new": "ticket_create",
    "billing:stripe-webhook": "stripe_webhook",
    "billing:stripe-webhook-no-slash": "stripe_webhook",
}
COUNTED_METHODS = {"POST"}

_PERIODS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
THROTTLED_KEY = "ops:throttled:"  # + scope: requests refused so far (for /metrics)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` -> (10, 60): requests allowed, window in seconds."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


def rate_for(scope: str) -> str | None:
    return settings.RATE_LIMITS.get(scope)


def identity(request) -> str:
    """Who a limit counts: the API key the request authenticated with, else the signed-in
    user, else the client's IP (resolved as django-axes and the audit log resolve it)."""
    credential = getattr(request, "auth", None)  # DRF only: the ApiKey row, or None
    key_pk = getattr(credential, "pk", None)
    if key_pk is not None:
        return f"key:{key_pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request) or 'unknown'}"


def hit(scope: str, ident: str, *, now: float | None = None) -> int | None:
    """Count one request of ``ident`` against ``scope``: ``hit_all`` of one scope."""
    return hit_all([scope], ident, now=now)


def hit_all(scopes: list[str], ident: str, *, now: float | None = None) -> int | None:
    """Count one request of ``ident`` against each of ``scopes``. None when every scope
    allows it, else the seconds until the last refusing window ends (its ``Retry-After``).

    A window starts with the client's first request and lasts the rate's period; within it
    the first N requests pass. On Redis (production) one script counts the request in every
    scope and opens their windows, in one round trip; other caches keep each window's start
    under its own key (``add`` creates it only if absent, so concurrent workers agree on
    it), naming the counter. Either way every worker increments the same counters
    atomically. When the cache cannot answer (Redis down: config.cache answers misses)
    requests pass: an outage of the cache must not lock every client out.
    """
    limits = [(scope, *parse_rate(rate)) for scope in scopes if (rate := rate_for(scope))]
    if not limits:
        return None
    windows = [(f"throttle:{scope}:{ident}", period) for scope, _allowed, period in limits]
    counts: list[tuple[int, int] | None]
    count_in_windows = getattr(cache, "count_in_windows", None)
    if count_in_windows is not None:  # Redis (config.cache): one round trip
        counted = count_in_windows(windows)
        if counted is None:
            return None
        counts = [(count, max(1, math.ceil(left))) for count, left in counted]
    else:
        at = time.time() if now is None else now
        counts = [_count_with_cache_api(key, period, at) for key, period in windows]
    refusals = []
    for (scope, allowed, _period), window in zip(limits, counts, strict=True):
        if window is not None and window[0] > allowed:
            _count_refusal(scope)
            refusals.append(window[1])
    return max(refusals, default=None)


def _count_with_cache_api(base: str, period: int, now: float) -> tuple[int, int] | None:
    """``hit_all``'s window with Django's cache API alone (the file and memory caches of local
    runs and tests): the window's start under its own key, naming the counter."""
    start = now if cache.add(f"{base}:start", now, timeout=period) else cache.get(f"{base}:start")
    if start is None:
        return None
    remaining = max(1, math.ceil(start + period - now))
    counter = f"{base}:{int(start * 1000)}"
    cache.add(counter, 0, timeout=remaining + 1)
    try:
        return cache.incr(counter), remaining
    except ValueError:  # the window closed between the two calls, or the cache is down
        return None


def _count_refusal(scope: str) -> None:
    key = THROTTLED_KEY + scope
    cache.add(key, 0, timeout=None)
    # The cache is down: the refusal goes uncounted (the limit still held).
    with contextlib.suppress(ValueError):
        cache.incr(key)


def throttled_counts() -> dict[str, int]:
    """Requests refused per scope since the cache was last emptied."""
    keys = [THROTTLED_KEY + scope for scope in settings.RATE_LIMITS]
    found = cache.get_many(keys)
    return {key[len(THROTTLED_KEY) :]: int(found.get(key) or 0) for key in keys}


def route_scope(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None or request.method not in COUNTED_METHODS:
        return None
    return ROUTES.get(match.view_name)


# --- DRF -------------------------------------------------------------------------------------


class ApiThrottle(BaseThrottle):
    """Every API request counts against ``user`` (per API key or user) or ``anon`` (per IP),
    and a route in ``ROUTES`` against its tighter scope as well, all in one call."""

    retry_after: int | None = None

    def allow_request(self, request, view):
        user = getattr(request, "user", None)
        scopes = ["user" if user is not None and user.is_authenticated else "anon"]
        route = route_scope(request)
        if route is not None:
            scopes.append(route)
        self.retry_after = hit_all(scopes, identity(request))
        return self.retry_after is None

    def wait(self):
        return self.retry_after


# --- pages and the webhook -------------------------------------------------------------------


def throttled_response(request, retry_after: int) -> HttpResponse:
    """429 with ``Retry-After``: a page for a browser, the API's JSON error otherwise."""
    detail = f"Too many requests. Try again in {retry_after} seconds."
    if "text/html" in request.headers.get("Accept", ""):
        # Rendered without the request, as the 503 page is: no context processor runs.
        page = render_to_string(
            "429.html",
            {
                "retry_after": retry_after,
                "minutes": math.ceil(retry_after / 60),
                "business_name": business_name_offline(),
            },
        )
        response = HttpResponse(page, status=429)
    else:
        response = JsonResponse(
            {"code": "throttled", "detail": detail, "fields": {}, "retry_after": retry_after},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response


def _is_api_view(view_func) -> bool:
    # Imported here: DRF imports this module while it defines APIView (its default throttles).
    from rest_framework.views import APIView  # noqa: PLC0415 - why: the comment above

    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


class RouteThrottleMiddleware:
    """The route scopes for views outside DRF (allauth's pages, our forms, the webhook). API
    views are left to their throttle classes, which count after authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _is_api_view(view_func):
            return None
        scope = route_scope(request)
        if scope is None:
            return None
        retry_after = hit(scope, identity(request))
        return None if retry_after is None else throttled_response(request, retry_after)
