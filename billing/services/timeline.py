"""The subscription timeline (append-only) and the customer e-mails that go with it."""

import logging

from accounts.models import User
from billing.models import Subscription, SubscriptionEvent

logger = logging.getLogger(__name__)

EventType = SubscriptionEvent.Type
Source = SubscriptionEvent.Source


def add(
    subscription: Subscription,
    type: str,
    message: str,
    *,
    source: str,
    payload: dict | None = None,
    stripe_event_id: str = "",
    actor: User | None = None,
) -> SubscriptionEvent:
    """Append one timeline row. ``message`` is what the customer reads: plain words."""
    return SubscriptionEvent.objects.create(
        subscription=subscription,
        type=type,
        source=source,
        message=message[:300],
        payload=payload or {},
        stripe_event_id=stripe_event_id or "",
        actor=actor if getattr(actor, "pk", None) else None,
    )
