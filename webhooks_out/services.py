"""Sending deliveries: one endpoint at a time, in sequence order, with retries and backoff.

A delivery succeeds on any 2xx answer. Anything else (another status, a timeout, a refused
connection) is logged as an attempt and retried after a growing pause; the endpoint's later
deliveries wait behind it, so a receiver always gets its events in sequence order. After
``GIVE_UP_AFTER`` of failures the delivery is marked as given up and the endpoint disabled,
until staff enable it again (its waiting deliveries then go out) or replay what failed."""

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import urlparse

import requests
from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts import authority
from accounts.models import User
from core import audit
from core.models import AuditAction
from webhooks_out import events, signing
from webhooks_out.models import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_secret,
)

logger = logging.getLogger(__name__)

# Pause after the 1st, 2nd, ... failed attempt; the last one repeats.
BACKOFF_SECONDS = [60, 5 * 60, 30 * 60, 60 * 60, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600]
GIVE_UP_AFTER = timedelta(days=3)
TIMEOUT = (5, 10)  # connect, read (seconds)
BATCH = 100
# A sender's hold on an endpoint, renewed before each POST: longer than one attempt can take
# (its connect and read timeouts), so a live sender never loses it, and short enough that the
# deliveries of a sender that died go out again within a minute.
LEASE = timedelta(seconds=60)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


def _take_lease(endpoint_id: int, *, held: datetime | None = None) -> datetime | None:
    """Take the endpoint for ``LEASE`` (or extend the lease ``held``): the new end of the
    lease, or None when another sender holds it (or took it over after ``held`` ran out).
    One conditional UPDATE, committed at once: no lock or session state outlives it, so it
    holds behind a pooler in transaction mode and blocks no writer during the HTTP calls."""
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if held is None:
        endpoints = endpoints.filter(Q(sending_until__isnull=True) | Q(sending_until__lte=now))
    else:
        endpoints = endpoints.filter(sending_until=held)
    until = now + LEASE
    return until if endpoints.update(sending_until=until) else None


@contextmanager
def _sender_lease(endpoint_id: int) -> Iterator[Callable[[], bool] | None]:
    """Only one process sends an endpoint's deliveries at a time (their order would mean
    nothing otherwise). Yields None when another sender holds the endpoint, else ``renew``,
    to call before each further POST: False once the lease is lost (this sender stops)."""
    lease = _take_lease(endpoint_id)

    def renew() -> bool:
        nonlocal lease
        lease = lease and _take_lease(endpoint_id, held=lease)
        return lease is not None

    try:
        yield renew if lease is not None else None
    finally:
        if lease is not None:
            WebhookEndpoint.objects.filter(pk=endpoint_id, sending_until=lease).update(
                sending_until=None
            )


def address_refusal(url: str) -> str:
    """Why ``url`` may not receive deliveries, or "" when it may: unless
    ``WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES`` is on, every address its host resolves to must be
    public (not loopback, private, link-local, reserved or multicast), so an endpoint cannot
    be pointed at the product's own network. Checked when staff save it and before each POST
    (the name may resolve elsewhere later)."""

    if getattr(settings, "WEBHOOKS_OUT_ALLOW_PRIVATE_ADDRESSES", False):
        return ""
    host = urlparse(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return f"{host or url} does not resolve."
    for info in infos:
        # An IPv4 or IPv6 socket address: its first item is the host's address, as text.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"{host} resolves to {address}, which is not a public address."
    return ""


def body_of(delivery: WebhookDelivery) -> bytes:
    event = delivery.event
    return json.dumps(
        {
            "id": event.public_id,
            "type": event.type,
            "created": int(event.created_at.timestamp()),
            "sequence": delivery.sequence,
            "data": {"object": event.payload},
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def deliver_endpoint(endpoint_id: int, *, limit: int = BATCH) -> dict:
    """Send this endpoint's due deliveries in sequence order, stopping at the first failure
    (or one not yet due). Safe to call concurrently: a second caller finds the endpoint busy
    and returns."""
    sent = failed = 0
    with _sender_lease(endpoint_id) as renew:
        if renew is None:
            return {"busy": True, "sent": 0, "failed": 0}
        for index in range(limit):
            if index and not renew():
                break  # another sender took the endpoint over: it goes on in order
            endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).first()
            if endpoint is None:
                break
            delivery = (
                WebhookDelivery.objects.select_related("event")
                .filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
                .order_by("sequence")
                .first()
            )
            if delivery is None or delivery.next_attempt_at > timezone.now():
                break
            if _attempt(endpoint, delivery):
                sent += 1
            else:
                failed += 1
                break
    return {"busy": False, "sent": sent, "failed": failed}


def _headers(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes, started: datetime
) -> dict[str, str]:
    """The headers of one attempt: signed with the endpoint's secret at ``started``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "billing-webhooks/1",
        signing.HEADER: signing.sign(endpoint.secret, body, int(started.timestamp())),
        "Billing-Event-Id": delivery.event.public_id,
        "Billing-Event-Type": delivery.event.type,
        "Billing-Sequence": str(delivery.sequence),
        "Billing-Attempt": str(delivery.attempts + 1),
    }


def _post(
    endpoint: WebhookEndpoint, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str, str]:
    """Send one attempt; (response code, response excerpt, error), error empty on a 2xx."""
    code, excerpt, error = None, "", ""
    refusal = address_refusal(endpoint.url)
    try:
        if refusal:
            error = f"Not sent: {refusal}"[:500]
        else:
            response = requests.post(
                endpoint.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
            code, excerpt = response.status_code, response.text[:500]
            if not 200 <= code < 300:
                error = f"HTTP {code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return code, excerpt, error


def _record(
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    started: datetime,
    outcome: tuple[int | None, str, str],
    duration: int,
) -> None:
    """Log the attempt and move the delivery on: delivered, retried later, or given up (which
    disables the endpoint)."""
    code, excerpt, error = outcome
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=started,
            response_code=code,
            response_excerpt=excerpt,
            error=error,
            duration_ms=duration,
        )
        delivery.attempts += 1
        delivery.first_attempt_at = delivery.first_attempt_at or started
        delivery.last_response_code = code
        delivery.last_error = error
        if not error:
            delivery.status, delivery.delivered_at = DeliveryStatus.SUCCEEDED, now
        elif now - delivery.first_attempt_at >= GIVE_UP_AFTER:
            delivery.status = DeliveryStatus.FAILED
            _disable(
                endpoint,
                actor=None,
                reason=(
                    f"Delivery #{delivery.sequence} failed for {GIVE_UP_AFTER.days} days "
                    f"(last: {error})"
                )[:300],
            )
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save()


def _attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> bool:
    body = body_of(delivery)
    started = timezone.now()
    headers = _headers(endpoint, delivery, body, started)
    clock = time.monotonic()
    code, excerpt, error = _post(endpoint, body, headers)
    duration = int((time.monotonic() - clock) * 1000)
    ok = not error
    _record(endpoint, delivery, started, (code, excerpt, error), duration)
    if not ok:
        logger.warning(
            "Webhook delivery %s to %s failed (attempt %s): %s",
            delivery.pk,
            endpoint.url,
            delivery.attempts,
            error,
        )
    return ok


DELIVER_ENDPOINT_TASK = "webhooks_out.tasks.deliver_endpoint"


def _task(name: str) -> Task:
    """The Celery task registered under ``name`` (tasks.py imports this module, not the
    reverse); a process that never imported the tasks modules loads them first."""
    task = current_app.tasks.get(name)
    if task is None:
        current_app.loader.import_default_modules()
        task = current_app.tasks[name]
    return task


def deliver_due() -> int:
    """Queue a send for every enabled endpoint whose first waiting delivery is due (retries,
    and anything a busy sender left behind). Returns how many endpoints were queued."""
    task = _task(DELIVER_ENDPOINT_TASK)
    head = (
        WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), status=DeliveryStatus.PENDING)
        .order_by("sequence")
        .values("next_attempt_at")[:1]
    )
    ids = list(
        WebhookEndpoint.objects.filter(active=True)
        .annotate(head_due=Subquery(head))
        .filter(head_due__lte=timezone.now())
        .values_list("pk", flat=True)
    )
    for endpoint_id in ids:
        task.delay(endpoint_id)
    return len(ids)


# --- staff operations (the admin calls these) ------------------------------------------------


def register(
    *, url: str, event_types: list[str], description: str = "", actor: User | None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns (endpoint, secret). The secret is shown to staff once."""
    authority.require(actor, "webhooks.endpoint.manage")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            event_types=sorted(set(event_types)),
            description=description,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            resource=endpoint,
            new={"url": url, "event_types": endpoint.event_types},
        )
    return endpoint, endpoint.secret


def rotate_secret(endpoint: WebhookEndpoint, *, actor: User | None) -> str:
    authority.require(actor, "webhooks.endpoint.manage")
    with transaction.atomic():
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "updated_at"])
        audit.record(
            actor=actor, action=AuditAction.UPDATE, resource=endpoint, new={"secret": "rotated"}
        )
    secret: str = endpoint.secret  # an encrypted text field: the stubs do not know its type
    return secret


def _disable(endpoint: WebhookEndpoint, *, actor: User | None, reason: str) -> None:
    endpoint.active, endpoint.disabled_at = False, timezone.now()
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=endpoint,
        old={"active": True},
        new={"active": False, "reason": reason},
    )


def disable(endpoint: WebhookEndpoint, *, actor: User | None) -> bool:
    authority.require(actor, "webhooks.endpoint.manage")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not endpoint.active:
            return False
        _disable(endpoint, actor=actor, reason="Disabled by staff")
    return True


def enable(endpoint: WebhookEndpoint, *, actor: User | None) -> bool:
    """Enable again; its waiting deliveries go out at once, in order, with a fresh retry
    window."""
    authority.require(actor, "webhooks.endpoint.manage")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.active:
            return False
        endpoint.active, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
        endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
        endpoint.deliveries.filter(status=DeliveryStatus.PENDING).update(
            next_attempt_at=timezone.now(), first_attempt_at=None
        )
        audit.record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=endpoint,
            old={"active": False},
            new={"active": True},
        )
        events.schedule([endpoint.pk])
    return True


def replay(delivery: WebhookDelivery, *, actor: User | None) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the endpoint's next sequence
    number (the receiver sees the same event id: it can tell a resend)."""
    authority.require(actor, "webhooks.delivery.replay")
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            sequence=events.next_sequence(delivery.endpoint_id),
            next_attempt_at=timezone.now(),
            replay_of=delivery,
        )
        audit.record(
            actor=actor,
            action=AuditAction.OTHER,
            resource=copy,
            operation="webhook_replay",
            replay_of=delivery.pk,
            event=delivery.event.public_id,
        )
        events.schedule([delivery.endpoint_id])
    return copy


def send_test(endpoint: WebhookEndpoint, *, actor: User | None) -> WebhookEvent:
    authority.require(actor, "webhooks.endpoint.manage")
    with transaction.atomic():
        event: WebhookEvent | None = events.emit(
            events.TEST_EVENT,
            {"endpoint": endpoint.pk, "message": "A test event from the staff console"},
            endpoints=[endpoint],
        )
        # Sent to the given endpoint, with no dedupe key: emit always records the event.
        assert event is not None
        audit.record(
            actor=actor,
            action=AuditAction.OTHER,
            resource=endpoint,
            operation="webhook_test",
            event=event.public_id,
        )
    return event
