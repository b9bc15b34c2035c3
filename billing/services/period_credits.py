"""Plan credits for a paid subscription period.

Every paid subscription period grants the plan's credits exactly once: the credits
service's idempotency key is the invoice's id (Stripe's, or our number for manual ones), and
the grant happens in the same transaction that first marks the invoice paid.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from billing.models import Invoice, Subscription
from billing.services import timeline
from billing.services.subscriptions.state import CREDIT_SOURCE_PLAN
from billing.services.timeline import EventType, Source
from credits.services import grant_credits

logger = logging.getLogger(__name__)

PERIOD_REASONS = ("subscription_create", "subscription_cycle")


def grant_period_credits(*, invoice: Invoice, subscription: Subscription) -> None:
    """The plan's credits for the period ``invoice`` paid, once (key: the invoice id),
    expiring at the period end. Trial ($0) and plan-change invoices grant nothing here."""
    amount = subscription.plan.credits_per_period
    if not amount or invoice.billing_reason not in PERIOD_REASONS:
        return
    if (
        invoice.total == 0
        and subscription.trial_end
        and invoice.period_end
        and invoice.period_end <= subscription.trial_end + timedelta(minutes=1)
    ):
        return  # Stripe's $0 invoice for a trial: the trial allowance covers it
    expires = invoice.period_end
    if expires is None or expires <= timezone.now():
        logger.warning("Invoice %s paid after its period ended; no plan credits", invoice.pk)
        return
    key = f"plan-credits-{invoice.stripe_invoice_id or invoice.number}"
    grant_credits(
        user=subscription.user,
        amount=amount,
        source=CREDIT_SOURCE_PLAN,
        expires_at=expires,
        idempotency_key=key,
        details={
            "subscription": subscription.pk,
            "invoice": invoice.number,
            "plan": subscription.plan.slug,
        },
        source_ref=invoice.number,
    )
    timeline.add(
        subscription,
        EventType.CREDITS_GRANTED,
        f"{amount:,} credits added, valid until {expires:%d %B %Y}.",
        source=Source.SYSTEM,
        payload={"invoice": invoice.number, "amount": amount},
    )
