"""Daily reconciliation with Stripe: Stripe events of the last 3 days missing from the
inbox are inserted and processed; each Stripe-billed subscription and each Stripe invoice
changed lately is compared with Stripe, and differences are recorded as StripeDrift rows
(staff see them in admin)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from billing.models import (
    BillingSource,
    Invoice,
    Payment,
    Refund,
    StripeDrift,
    Subscription,
    WebhookEvent,
)
from billing.services.subscriptions.state import map_status
from billing.stripe import client as stripe_client
from billing.stripe import mirror as stripe_mirror
from billing.stripe.inbox import InvalidEvent, record_event
from billing.stripe.sync import Progress, SyncReport, no_progress

RECONCILE_WINDOW_SECONDS = 3 * 24 * 3600


def enqueue_missing_events(
    *, now: float | None = None, progress: Progress = no_progress, report: SyncReport | None = None
) -> SyncReport:
    """Insert Stripe's events of the last 3 days that our inbox never received."""
    report = report or SyncReport()
    since = int((now or time.time()) - RECONCILE_WINDOW_SECONDS)
    events = list(stripe_client.list_events(created_gte=since))
    known = set(
        WebhookEvent.objects.filter(stripe_event_id__in=[e["id"] for e in events]).values_list(
            "stripe_event_id", flat=True
        )
    )
    for event in progress([e for e in events if e["id"] not in known], desc="events"):
        try:
            _, created = record_event(body=json.dumps(event).encode())
        except InvalidEvent as exc:
            report.failed += 1
            report.errors.append(f"event {event.get('id')}: {exc}")
            continue
        report.enqueued += int(created)
    return report


def _fmt(value: object) -> str:
    return "" if value is None else str(value)


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat() if timestamp else None


def _compare(
    *,
    subscription: Subscription | None,
    object_id: str,
    values: dict[str, tuple[object, object]],
    report: SyncReport,
) -> None:
    """Record each field whose ours != theirs as an open StripeDrift row (one per field and
    pair of values); close the open rows of fields that agree again."""
    now = timezone.now()
    for name, (ours, theirs) in values.items():
        open_rows = StripeDrift.objects.filter(
            object_id=object_id, field=name, resolved_at__isnull=True
        )
        if _fmt(ours) == _fmt(theirs):
            open_rows.update(resolved_at=now)
            continue
        local, remote = _fmt(ours)[:255], _fmt(theirs)[:255]
        open_rows.exclude(local_value=local, stripe_value=remote).update(resolved_at=now)
        StripeDrift.objects.get_or_create(
            object_id=object_id,
            field=name,
            resolved_at__isnull=True,
            local_value=local,
            stripe_value=remote,
            defaults={"subscription": subscription},
        )
        report.drift += 1


def _mirrored(model_name: str, object_id: str) -> dict[str, Any] | None:
    """The raw Stripe object dj-stripe's mirror holds for ``object_id`` (or None)."""
    row: dict[str, Any] | None = (
        apps.get_model("djstripe", model_name)
        .objects.filter(id=object_id)
        .values_list("stripe_data", flat=True)
        .first()
    )
    return row or None


def check_drift(
    *, progress: Progress = no_progress, report: SyncReport | None = None
) -> SyncReport:
    """Compare our records with Stripe's: each live Stripe-billed subscription (read again
    from Stripe and mirrored), and each Stripe invoice changed lately (with its charge) as
    dj-stripe's mirror holds them. Differences are StripeDrift rows staff see in the admin."""
    report = report or SyncReport()
    # Live ones, and ended ones whose drift is still open (so it can be marked resolved).
    subscriptions = (
        Subscription.objects.filter(
            billing_source=BillingSource.STRIPE, stripe_subscription_id__isnull=False
        )
        .filter(
            ~Q(status__in=["CANCELED", "INCOMPLETE_EXPIRED"])
            | Q(drifts__resolved_at__isnull=True, drifts__isnull=False)
        )
        .distinct()
        .order_by("id")
    )
    for subscription in progress(list(subscriptions), desc="drift"):
        stripe_subscription_id = subscription.stripe_subscription_id
        assert stripe_subscription_id is not None  # the query keeps those with a Stripe id only
        try:
            remote = stripe_client.retrieve_subscription(stripe_subscription_id)
        except stripe_client.stripe.StripeError as exc:
            report.failed += 1
            report.errors.append(f"subscription {subscription.pk}: {exc}")
            continue
        stripe_mirror.mirror(remote)
        theirs = _mirrored("Subscription", remote["id"]) or remote
        # dj-stripe 2.11 reads periods from the subscription; since 2025-03-31 they are on
        # the items: the raw object is read.
        item = ((theirs.get("items") or {}).get("data") or [{}])[0]
        _compare(
            subscription=subscription,
            object_id=stripe_subscription_id,
            report=report,
            values={
                "status": (subscription.status, map_status(theirs.get("status"))),
                "current_period_end": (
                    subscription.current_period_end.isoformat()
                    if subscription.current_period_end
                    else None,
                    _iso(item.get("current_period_end")),
                ),
            },
        )
    check_invoice_drift(progress=progress, report=report)
    return report


# Our invoice statuses as Stripe's: a refund does not change a Stripe invoice's status.
STRIPE_INVOICE_STATUS = {"PARTIALLY_REFUNDED": "paid", "REFUNDED": "paid"}


def _invoices_to_check() -> QuerySet[Invoice]:
    """Stripe invoices changed in the reconciliation window, or with an open drift."""
    since = timezone.now() - timedelta(seconds=RECONCILE_WINDOW_SECONDS)
    drifting = StripeDrift.objects.filter(resolved_at__isnull=True).values("object_id")
    return (
        Invoice.objects.filter(billing_source=BillingSource.STRIPE, stripe_invoice_id__isnull=False)
        .filter(Q(updated_at__gte=since) | Q(stripe_invoice_id__in=drifting))
        .select_related("subscription")
        .order_by("id")
    )


def check_invoice_drift(
    *, progress: Progress = no_progress, report: SyncReport | None = None
) -> SyncReport:
    """Each Stripe invoice changed in the reconciliation window (or with an open drift)
    against the mirror: total, amount paid, status, period end; and what its charge says was
    refunded against our succeeded refunds of it."""
    report = report or SyncReport()
    for invoice in progress(list(_invoices_to_check()), desc="invoices"):
        stripe_invoice_id = invoice.stripe_invoice_id
        assert stripe_invoice_id is not None  # the query keeps invoices with a Stripe id only
        theirs = _mirrored("Invoice", stripe_invoice_id)
        if theirs is None:
            _compare(
                subscription=invoice.subscription,
                object_id=stripe_invoice_id,
                report=report,
                values={"mirror": ("present", "missing")},
            )
            continue
        lines = (theirs.get("lines") or {}).get("data") or []
        period_end = max(((line.get("period") or {}).get("end") or 0 for line in lines), default=0)
        _compare(
            subscription=invoice.subscription,
            object_id=stripe_invoice_id,
            report=report,
            values={
                "mirror": ("present", "present"),
                "total": (invoice.total, max(0, int(theirs.get("total") or 0))),
                "amount_paid": (invoice.amount_paid, int(theirs.get("amount_paid") or 0)),
                "status": (
                    STRIPE_INVOICE_STATUS.get(invoice.status, invoice.status.lower()),
                    theirs.get("status"),
                ),
                "period_end": (
                    invoice.period_end.isoformat() if invoice.period_end else None,
                    _iso(period_end),
                ),
            },
        )
        payment = Payment.objects.filter(invoice=invoice).exclude(stripe_charge_id="").first()
        charge = _mirrored("Charge", payment.stripe_charge_id) if payment else None
        if payment is not None and charge is not None:
            refunded = (
                Refund.objects.filter(
                    invoice=invoice, status=Refund.Status.SUCCEEDED, stripe_refund_id__isnull=False
                ).aggregate(total=Sum("amount"))["total"]
                or 0
            )
            _compare(
                subscription=invoice.subscription,
                object_id=payment.stripe_charge_id,
                report=report,
                values={"refunded_amount": (refunded, int(charge.get("amount_refunded") or 0))},
            )
    return report


def reconcile(*, progress: Progress = no_progress) -> SyncReport:
    report = enqueue_missing_events(progress=progress)
    return check_drift(progress=progress, report=report)
