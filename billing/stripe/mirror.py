"""dj-stripe's mirror of the Stripe objects the business touches, with no secret at rest.

``install()`` (run once at start-up) makes two rules hold for every dj-stripe model:

- No owner-account lookup. dj-stripe finds a synced object's "owner account" by storing the
  secret API key, in plain text, in ``djstripe_apikey`` and fetching the account (two extra
  Stripe calls on each sync). One install serves one Stripe account, so the link adds nothing:
  every model answers "no owner", as dj-stripe itself does for tax codes.
- ``djstripe_apikey`` never receives a secret or restricted key, whichever path tries: saving
  one raises ``SecretAtRest`` (publishable keys, which are public, may be stored).

``mirror(obj)`` keeps dj-stripe's copy of one object in step with ``sync_from_stripe_data``
(Stripe's raw object lands in the row's ``stripe_data``, which reconciliation reads). The
mirror is a convenience: our own records are the books, so a mirror that cannot be written is
logged and the event carries on.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import pre_save
from djstripe import models as djstripe_models
from djstripe.models import APIKey
from djstripe.models.base import StripeModel
from stripe._util import convert_to_stripe_object

from billing.stripe import client as stripe_client

logger = logging.getLogger(__name__)

# Stripe's ``object`` name -> dj-stripe model name, for the objects the business touches.
MIRRORED = {
    "customer": "Customer",
    "product": "Product",
    "price": "Price",
    "subscription": "Subscription",
    "invoice": "Invoice",
    "payment_intent": "PaymentIntent",
    "charge": "Charge",
    "refund": "Refund",
    "dispute": "Dispute",
    "payment_method": "PaymentMethod",
}


# References dj-stripe would follow with one more Stripe call each, for objects we never read
# from the mirror (balance transactions; the customer's legacy default source and discount).
# They stay in the row's ``stripe_data``.
NOT_FOLLOWED: dict[str, dict[str, object]] = {
    "customer": {"discount": None, "default_source": None},
    "charge": {"balance_transaction": None},
    "refund": {"balance_transaction": None},
    "dispute": {"balance_transactions": []},
}


class SecretAtRest(RuntimeError):
    """Something tried to store a Stripe secret key in the database."""


def _no_owner_account(
    cls: type[StripeModel],
    data: dict[str, Any],
    api_key: str | None = None,
    livemode: bool | None = None,
) -> None:
    return None


def _refuse_secret(sender: type[APIKey], instance: APIKey, **kwargs: object) -> None:
    secret = str(getattr(instance, "secret", "") or "")
    if secret.startswith(("sk_", "rk_")):
        raise SecretAtRest(
            "A Stripe secret key must not be stored in the database (djstripe_apikey)."
        )


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    StripeModel._find_owner_account = classmethod(_no_owner_account)
    pre_save.connect(_refuse_secret, sender=APIKey, dispatch_uid="billing-no-secret-at-rest")
    _installed = True


def model_for(kind: str) -> type[StripeModel] | None:
    name = MIRRORED.get(kind)
    model: type[StripeModel] | None = getattr(djstripe_models, name) if name else None
    return model


def mirror(obj: dict[str, Any] | None) -> StripeModel | None:
    """dj-stripe's row for ``obj`` (created or updated), or None when the object is not one we
    mirror, Stripe is not configured or the mirror could not be written (logged)."""
    if not isinstance(obj, dict) or not obj.get("id") or not stripe_client.is_configured():
        return None
    kind = obj.get("object") or ""
    model = model_for(kind)
    if model is None:
        return None
    data = dict(obj)
    for name, value in NOT_FOLLOWED.get(kind, {}).items():
        if name in data:
            data[name] = value
    api_key = stripe_client.client().api_key
    try:
        with transaction.atomic():
            # dj-stripe reads lists the way stripe-python returns them (auto-paging).
            row = model.sync_from_stripe_data(
                convert_to_stripe_object(data, api_key, stripe_client.api_version()),
                api_key=api_key,
            )
            # The raw object as Stripe sent it, references included, is what we read back.
            model.objects.filter(pk=row.pk).update(stripe_data=obj)
            return row
    except SecretAtRest:
        raise
    except Exception:  # noqa: BLE001 - the mirror never blocks the books
        logger.warning(
            "Could not mirror Stripe %s %s", obj.get("object"), obj.get("id"), exc_info=True
        )
        return None
