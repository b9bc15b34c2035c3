"""The Stripe event handlers' registry: one list of handlers per event type, filled by
``order_events`` and ``subscription_events`` (BillingConfig.ready imports them), and the
dispatch the inbox runs for each event.

Handlers run inside the inbox's transaction, may run more than once (replay, retries) and
may see events out of order, so each one either applies only forward moves (paid is final,
refunds only move forward) or compares the event's time with what is stored.
"""

import copy
import logging
from collections.abc import Callable

from billing.models import WebhookEvent
from billing.stripe import client as stripe_client
from billing.stripe import mirror as stripe_mirror

logger = logging.getLogger(__name__)

Handler = Callable[[WebhookEvent, dict], None]
HANDLERS: dict[str, list[Handler]] = {}


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS.setdefault(event_type, []).append(fn)
        return fn

    return register


def dispatch(event: WebhookEvent) -> None:
    """Run every handler registered for the event's type. Unknown types are recorded only."""
    handlers = HANDLERS.get(event.type, [])
    if not handlers and version_differs(event):
        return  # nothing reads it, and its shape is not ours: not worth a Stripe call
    obj = current_object(event)
    # dj-stripe's mirror of the object (raw Stripe data, for reconciliation); never blocks.
    stripe_mirror.mirror(obj)
    for handler in handlers:
        handler(event, obj)


def version_differs(event: WebhookEvent) -> bool:
    """The event was written in another API version than the one we speak."""
    return bool(event.api_version) and event.api_version != stripe_client.api_version()


def current_object(event: WebhookEvent) -> dict:
    """The event's object in the shape of our pinned API version.

    An event in our version is used as delivered. Another version's payload is not trusted:
    the object is read again from Stripe at our version. Where that is impossible (a deleted
    object, an object type Stripe cannot retrieve, Stripe not configured) the payload is
    brought to our shape field by field (``normalize``). Network errors propagate, so the
    event is retried later.
    """
    obj = (event.payload.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict) or not version_differs(event):
        return obj
    if (
        obj.get("id")
        and not obj.get("deleted")
        and not event.type.endswith(".deleted")
        and stripe_client.is_configured()
    ):
        try:
            return stripe_client.retrieve_object(obj.get("object") or "", obj["id"])
        except LookupError:
            pass
        except stripe_client.stripe.InvalidRequestError as exc:
            if getattr(exc, "http_status", None) != 404:
                raise
    return normalize(obj)


def normalize(obj: dict) -> dict:
    """Bring an object written in an older API version to the current shape, for the fields
    our handlers read: subscription periods live on the items (since 2025-03-31), an
    invoice's subscription under ``parent.subscription_details`` and its payments under
    ``payments`` (since 2025-03-31), a charge's invoice is not on the charge any more."""
    obj = copy.deepcopy(obj)
    kind = obj.get("object")
    if kind == "subscription":
        for item in (obj.get("items") or {}).get("data") or []:
            for name in ("current_period_start", "current_period_end"):
                if item.get(name) is None and obj.get(name) is not None:
                    item[name] = obj[name]
    elif kind == "invoice":
        if obj.get("subscription") and not (obj.get("parent") or {}).get("subscription_details"):
            sub = obj["subscription"]
            obj["parent"] = {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": sub["id"] if isinstance(sub, dict) else sub,
                    "metadata": obj.get("subscription_details", {}).get("metadata") or {},
                },
            }
        if not obj.get("payments") and (obj.get("payment_intent") or obj.get("charge")):
            obj["payments"] = {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "object": "invoice_payment",
                        "invoice": obj.get("id"),
                        "is_default": True,
                        "status": "paid" if obj.get("status") == "paid" else "open",
                        "amount_paid": obj.get("amount_paid"),
                        "payment": {
                            "type": "payment_intent" if obj.get("payment_intent") else "charge",
                            "payment_intent": obj.get("payment_intent"),
                            "charge": obj.get("charge"),
                        },
                    }
                ],
            }
    return obj
