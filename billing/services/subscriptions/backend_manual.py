"""The manual backend: a subscription billed by invoice (bank transfer) or free changes here
alone, under its row lock, re-checked once the lock is held."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import Invoice, Subscription
from billing.services import invoices, timeline
from billing.services.subscriptions import proration
from billing.services.subscriptions.state import (
    STATUS_WORDS,
    ChangePreview,
    S,
    audit_cancel,
    audit_resume,
    source_for,
    trial_extensible,
)
from billing.services.timeline import EventType, Source
from catalog.models import Plan, Price
from core import audit
from core.models import AuditAction


def _schedule_cancel(sub: Subscription, *, actor: User | None, source: str) -> None:
    sub.cancel_at_period_end = True
    sub.save(update_fields=["cancel_at_period_end", "updated_at"])
    end = sub.current_period_end
    timeline.add(
        sub,
        EventType.CANCEL_SCHEDULED,
        f"Your subscription will end on {end:%d %B %Y}."
        if end
        else "Your subscription will end at the period end.",
        source=source,
        actor=actor,
    )


def _end_now(sub: Subscription, *, actor: User | None, source: str) -> None:
    now = timezone.now()
    old = sub.status
    sub.status, sub.canceled_at, sub.ended_at = S.CANCELED, now, now
    sub.cancel_at_period_end = False
    sub.save()
    timeline.add(
        sub,
        EventType.CANCELED,
        STATUS_WORDS[S.CANCELED],
        source=source,
        actor=actor,
        payload={"old": old},
    )


class ManualBackend:
    name = "manual"

    def cancel(
        self,
        subscription: Subscription,
        *,
        at_period_end: bool,
        actor: User | None,
        source: str,
        reason: str,
    ) -> Subscription:
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            if sub.status not in Subscription.LIVE_STATUSES and sub.status != S.INCOMPLETE:
                raise errors.SubscriptionNotCancelable()
            if at_period_end:
                _schedule_cancel(sub, actor=actor, source=source)
            else:
                _end_now(sub, actor=actor, source=source)
            audit_cancel(sub, actor=actor, at_period_end=at_period_end, reason=reason)
        return sub

    def resume(
        self, subscription: Subscription, *, actor: User | None, source: str
    ) -> Subscription:
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            if not sub.cancel_at_period_end:
                return sub
            sub.cancel_at_period_end = False
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
            timeline.add(
                sub,
                EventType.RESUMED,
                "Your subscription will renew as usual.",
                source=source,
                actor=actor,
            )
            audit_resume(sub, actor=actor)
        return sub

    def extend_trial(
        self, subscription: Subscription, *, days: int, actor: User | None
    ) -> Subscription:
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            # It may have changed while we waited for the lock.
            if sub.trial_end is None or not trial_extensible(sub, days):
                raise errors.TrialExtensionInvalid()
            old = sub.trial_end
            sub.trial_end = sub.trial_end + timedelta(days=days)
            sub.current_period_end = sub.trial_end
            sub.save()
            timeline.add(
                sub,
                EventType.TRIAL_EXTENDED,
                f"Your trial was extended until {sub.trial_end:%d %B %Y}.",
                source=Source.STAFF,
                actor=actor,
                payload={"days": days},
            )
            audit.record(
                actor=actor,
                action=AuditAction.UPDATE,
                resource=sub,
                old={"trial_end": old.isoformat()},
                new={"trial_end": sub.trial_end.isoformat()},
                operation="extend_trial",
            )
        return sub

    def comp_until(
        self, subscription: Subscription, *, start: datetime, new_end: datetime, actor: User | None
    ) -> Subscription:
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            sub.current_period_end = new_end
            sub.save(update_fields=["current_period_end", "updated_at"])
        return sub

    def change_plan(
        self,
        sub: Subscription,
        plan: Plan,
        price: Price,
        interval: str,
        *,
        preview: bool,
        actor: User | None,
        proration_date: int | None,
    ) -> ChangePreview:
        """Our own calculation by the second (``proration.manual_proration``); the change
        and its invoice are made under the row lock, re-checked there."""
        now = timezone.now()
        result, calc, lines = proration.change_preview(sub, plan, price, interval, now=now)
        if preview:
            return result
        with transaction.atomic():
            locked = _locked_for_change(sub, price, calc, now=now, actor=actor)
            invoice = _apply_change(
                locked, plan, price, interval, calc, lines, actor=actor, voided=result.voids
            )
        if invoice is not None:
            invoices.email_new_invoice_on_commit(invoice)
        result.subscription, result.applied = locked, True
        return result


def _locked_for_change(
    sub: Subscription, price: Price, calc: dict[str, Any], *, now: datetime, actor: User | None
) -> Subscription:
    """``sub`` locked, still on the previewed price and live; the unpaid invoice the change
    replaces (if any) is voided."""
    locked = Subscription.objects.for_update().select_related("plan", "price").get(pk=sub.pk)
    if locked.price_id != sub.price_id or locked.status not in (S.ACTIVE, S.TRIALING):
        raise errors.SubscriptionNotChangeable()
    if calc["void"] is not None:
        # Re-read under the lock: the unpaid invoice must still be unpaid.
        again = proration.manual_proration(locked, price, now=now)
        if again["void"] is None or again["void"].pk != calc["void"].pk:
            raise errors.SubscriptionNotChangeable(
                "The subscription's invoices changed; preview the change again."
            )
        invoices.void_for_plan_change(invoice_id=calc["void"].pk, subscription=locked, actor=actor)
        locked.refresh_from_db()
    return locked


def _apply_change(
    locked: Subscription,
    plan: Plan,
    price: Price,
    interval: str,
    calc: dict[str, Any],
    lines: list[dict[str, Any]],
    *,
    actor: User | None,
    voided: str,
) -> Invoice | None:
    """Move ``locked`` to the new plan; the change's invoice when it costs something."""
    subtotal, net = proration.net_of(calc)
    old = {"plan": locked.plan_id, "price": locked.price_id, "quantity": locked.quantity}
    locked.plan, locked.price = plan, price
    locked.current_period_start = calc["period_start"]
    locked.current_period_end = calc["period_end"]
    if net < 0:
        locked.credit_balance += -net
    locked.save()
    timeline.add(
        locked,
        EventType.PLAN_CHANGED,
        f"Your plan is now {plan.name} ({interval}ly).",
        source=source_for(actor, locked),
        actor=actor,
        payload={**old, "net": net},
    )
    invoice = None
    if net > 0:
        # The invoice adds its own tax line from the same rate and net amount.
        invoice = invoices.create_change_invoice(
            locked, lines=lines, subtotal=subtotal, credit=calc["credit"]
        )
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        resource=locked,
        old=old,
        new={"plan": plan.pk, "price": price.pk},
        operation="plan_change",
        net=net,
        voided=voided,
    )
    return invoice
