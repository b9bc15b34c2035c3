"""The subscription timeline (append-only) and the customer e-mails that go with it."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from accounts.models import User
from billing.models import Subscription, SubscriptionEvent
from core.system_config import get_config

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


def email_on_commit(*, user: User, subject: str, body: str) -> None:
    """Send one e-mail to ``user`` once the surrounding transaction commits (never for a
    change that rolled back). A deleted account gets none: its address is gone."""
    if getattr(user, "deleted_at", None) is not None:
        logger.info("No billing e-mail for deleted account %s: %s", user.pk, subject)
        return
    address = user.email
    # Every customer e-mail names the business and where to find it.
    business = get_config("business_name")
    body = f"{body.rstrip()}\n\n— {business}\n{settings.SITE_URL}/\n"

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:  # noqa: BLE001 - a mail outage must not undo a billing change
            logger.exception("Billing e-mail to %s failed", address)

    transaction.on_commit(send)
