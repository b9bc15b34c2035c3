"""Manual billing's periodic pass (Celery beat): renew ended periods with a new invoice, end
subscriptions set to cancel, remind before invoices are due, move overdue subscriptions to
PAST_DUE and long-overdue ones to UNPAID. Each subscription is handled in its own
transaction under its row lock; safe to rerun."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import BillingSource, Invoice, InvoiceStatus, Subscription
from billing.services import invoices, timeline
from billing.services.subscriptions.state import (
    STATUS_WORDS,
    S,
    add_interval,
    email_past_due,
    price_of,
)
from billing.services.timeline import EventType, Source
from core import outbox
from core.system_config import get_config

RENEWABLE = (S.ACTIVE, S.TRIALING, S.PAST_DUE)


def renew_manual_subscriptions(*, now: datetime | None = None) -> dict[str, int]:
    """One pass of manual billing; counts of what it did (renewed, ended, reminded,
    past_due, unpaid)."""
    now = now or timezone.now()
    counts = {"renewed": 0, "ended": 0, "reminded": 0, "past_due": 0, "unpaid": 0}
    due = Subscription.objects.filter(
        billing_source=BillingSource.MANUAL, status__in=RENEWABLE, current_period_end__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        outcome = _renew_one(pk, now=now)
        if outcome:
            counts[outcome] += 1
    counts["reminded"] = _send_reminders(now=now)
    counts["past_due"] = _mark_overdue(now=now)
    counts["unpaid"] = _mark_unpaid(now=now)
    return counts


def _renew_one(pk: int, *, now: datetime) -> str:
    """End or renew one subscription whose period is over: "ended", "renewed" or ""."""
    with transaction.atomic():
        sub = Subscription.objects.for_update().select_related("plan", "price", "user").get(pk=pk)
        if (
            sub.current_period_end is None
            or sub.current_period_end > now
            or sub.status not in RENEWABLE
        ):
            return ""
        if sub.cancel_at_period_end:
            sub.status, sub.ended_at, sub.canceled_at = S.CANCELED, sub.current_period_end, now
            sub.save()
            timeline.add(sub, EventType.CANCELED, STATUS_WORDS[S.CANCELED], source=Source.SYSTEM)
            return "ended"
        start = sub.current_period_end
        price = price_of(sub)
        end = add_interval(start, price.interval, price.interval_count)
        was_trial = sub.status == S.TRIALING
        sub.current_period_start, sub.current_period_end = start, end
        if was_trial:
            sub.status = S.ACTIVE
        sub.save()
        if was_trial:
            timeline.add(
                sub,
                EventType.ACTIVATED,
                "Your trial ended; your subscription is now active.",
                source=Source.SYSTEM,
            )
        else:
            timeline.add(
                sub, EventType.RENEWED, f"Renewed until {end:%d %B %Y}.", source=Source.SYSTEM
            )
        invoice = invoices.create_period_invoice(
            sub,
            period_start=start,
            period_end=end,
            billing_reason="subscription_create" if was_trial else "subscription_cycle",
        )
        invoices.email_new_invoice_on_commit(invoice)
        return "renewed"


def _send_reminders(*, now: datetime) -> int:
    """E-mail once about each open manual invoice due within the reminder days."""
    today = now.date()
    reminder_day = today + timedelta(days=get_config("billing.invoice_reminder_days"))
    sent = 0
    for invoice in Invoice.objects.filter(
        billing_source=BillingSource.MANUAL,
        status=InvoiceStatus.OPEN,
        reminded_at__isnull=True,
        due_date__lte=reminder_day,
        due_date__gte=today,
    ):
        with transaction.atomic():
            if Invoice.objects.filter(pk=invoice.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                outbox.enqueue("billing.tasks.send_invoice_notice", invoice.pk, "reminder")
                sent += 1
    return sent


def _mark_overdue(*, now: datetime) -> int:
    """Active subscriptions with an overdue open invoice become PAST_DUE."""
    overdue_subs = (
        Invoice.objects.filter(
            billing_source=BillingSource.MANUAL,
            status=InvoiceStatus.OPEN,
            due_date__lt=now.date(),
            subscription__status=S.ACTIVE,
        )
        .values_list("subscription_id", flat=True)
        .distinct()
    )
    moved = 0
    for pk in list(overdue_subs):
        with transaction.atomic():
            sub = Subscription.objects.for_update().select_related("plan", "user").get(pk=pk)
            if sub.status != S.ACTIVE:
                continue
            sub.status, sub.past_due_since = S.PAST_DUE, now
            sub.save(update_fields=["status", "past_due_since", "updated_at"])
            timeline.add(
                sub,
                EventType.PAYMENT_FAILED,
                "Your invoice is overdue; please pay it to keep your plan.",
                source=Source.SYSTEM,
            )
            email_past_due(sub)
            moved += 1
    return moved


def _mark_unpaid(*, now: datetime) -> int:
    """PAST_DUE for longer than ``billing.manual_unpaid_after_days`` becomes UNPAID."""
    limit = now - timedelta(days=get_config("billing.manual_unpaid_after_days"))
    moved = 0
    for pk in list(
        Subscription.objects.filter(
            billing_source=BillingSource.MANUAL, status=S.PAST_DUE, past_due_since__lt=limit
        ).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=pk)
            if sub.status != S.PAST_DUE:
                continue
            sub.status = S.UNPAID
            sub.save(update_fields=["status", "updated_at"])
            timeline.add(
                sub, EventType.STATUS_CHANGED, STATUS_WORDS[S.UNPAID], source=Source.SYSTEM
            )
            moved += 1
    return moved
