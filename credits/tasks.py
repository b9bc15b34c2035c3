"""Celery tasks: take ids, call one service, safe to run twice."""

import logging

from celery import current_task, shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import User
from core import outbox
from core.system_config import get_config
from credits import consumption, invariant, services
from credits.selectors import balance_of
from webhooks_out import payloads
from webhooks_out.events import emit

logger = logging.getLogger(__name__)


@shared_task(name="credits.tasks.expire_credits")
def expire_credits() -> int:
    """Hourly: expire lots past their date (idempotent; see services.expire_credits)."""
    return services.expire_credits()


@shared_task(name="credits.tasks.check_invariant")
def check_invariant() -> int:
    """Nightly: balance = ledger = live lots for every user. Violations are logged as errors;
    the outcome is recorded for /metrics and /ops/ (invariant.record_invariant_check)."""
    _check, violations = invariant.record_invariant_check()
    for violation in violations:
        logger.error(
            "CREDITS INVARIANT VIOLATED: user=%s grant=%s %s %s",
            violation.user_id,
            violation.grant_id,
            violation.problem,
            violation.values,
        )
    if violations:
        logger.critical(
            "credits: %d invariant violation(s); the ledger needs a look", len(violations)
        )
    return len(violations)


def _report_low_balance(user) -> None:
    """The ``credits.low`` webhook event, once per notice (keyed by the outbox message)."""
    notice = getattr(getattr(current_task, "request", None), "id", None)
    emit(
        "credits.low",
        {
            "customer": payloads.customer_ref(user.pk),
            "balance": balance_of(user=user),
            "threshold": get_config("low_balance_threshold"),
        },
        dedupe_key=f"credits.low:{user.pk}:{notice}" if notice else None,
    )


@shared_task(
    name="credits.tasks.send_low_balance_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def send_low_balance_email(user_id: int) -> bool:
    """Tell the user their balance fell below the threshold. Queued once per crossing by the
    service (the balance row's flag), through the outbox; a redelivered copy does nothing
    (effect_once), a run that died mid-send may repeat the e-mail (never lost, rarely twice)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    _report_low_balance(user)
    if not user.email:
        return False
    context = {
        "user": user,
        "balance": balance_of(user=user),
        "threshold": get_config("low_balance_threshold"),
        "business_name": get_config("business_name"),
        "credits_url": f"{settings.SITE_URL}/credits/",
        "buy_url": f"{settings.SITE_URL}/catalog/?type=CREDIT_PACK",
    }
    send_mail(
        subject=render_to_string("credits/email/low_balance_subject.txt", context).strip(),
        message=render_to_string("credits/email/low_balance.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


# Its name is kept from when webhooks_out ran the batch: queued and scheduled rows use it.
@shared_task(name="webhooks_out.tasks.batch_consumption", time_limit=300, soft_time_limit=270)
def batch_consumption() -> int:
    """credits.consumed: one event per customer for the ledger's new consumption."""
    return consumption.batch()
