"""Stripe objects for the Stripe double and the tests: Stripe's published examples
(fixtures/stripe_objects.json, MIT, see fixtures/STRIPE_LICENSE), events around them, error
bodies, and the older API versions' shapes."""

from __future__ import annotations

import copy
import itertools
import json
import time
from pathlib import Path

from stripe._api_version import _ApiVersion

# The version the double speaks unless a request names another (Stripe-Version header).
API_VERSION = _ApiVersion.CURRENT
FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "stripe_objects.json").read_text())
ids = itertools.count(1)


def example(resource: str, **changes) -> dict:
    """A deep copy of Stripe's example ``resource`` with ``changes`` applied."""
    obj = copy.deepcopy(FIXTURES[resource])
    if resource == "customer":
        obj["discount"] = None
    obj.update(changes)
    return obj


def wrap_event(
    obj: dict,
    event_type: str,
    *,
    event_id: str | None = None,
    created: int | None = None,
    api_version: str = API_VERSION,
) -> dict:
    """An event around ``obj``, as Stripe's README for the fixtures describes."""
    return {
        "id": event_id or f"evt_{next(ids):012d}",
        "object": "event",
        "type": event_type,
        "api_version": api_version,
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }


def error(kind: str, message: str, code: str | None = None, param: str | None = None) -> dict:
    error = {"type": kind, "message": message, "code": code}
    if param:
        error["param"] = param
    return {"error": error}


# Stripe's 2025-03-31 release moved subscription periods onto the items and an invoice's
# subscription (and payment) off the invoice; an account on an older version gets the old
# shapes. Versions compare as their dates.
BASIL = "2025-03-31"


def in_version(payload, version: str):
    """``payload`` (objects are stored in the current shape) as ``version`` shows it."""
    if version[:10] >= BASIL or not isinstance(payload, dict):
        return payload
    payload = copy.deepcopy(payload)
    for obj in [payload, *(payload.get("data") or [] if payload.get("object") == "list" else [])]:
        if not isinstance(obj, dict):
            continue
        if obj.get("object") == "subscription":
            items = (obj.get("items") or {}).get("data") or [{}]
            obj["current_period_start"] = items[0].pop("current_period_start", None)
            obj["current_period_end"] = items[0].pop("current_period_end", None)
            for item in items[1:]:
                item.pop("current_period_start", None)
                item.pop("current_period_end", None)
        elif obj.get("object") == "invoice":
            details = (obj.pop("parent", None) or {}).get("subscription_details") or {}
            obj["subscription"] = details.get("subscription")
            obj.pop("payments", None)
    return payload
