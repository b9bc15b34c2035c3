"""Our tax rule on Stripe subscriptions when Stripe Tax is off (``STRIPE_AUTOMATIC_TAX``
unset): the rate ``billing.tax.tax_for`` gives the customer and plan is carried as a Stripe
TaxRate in ``default_tax_rates``, so Stripe's invoices charge what a manual invoice would.

One Stripe TaxRate per country, percentage and inclusiveness (our prices exclude tax), made
the first time it is needed and then reused from its stored id (``StripeTaxRate``). A reverse
charge, or a rate of zero, carries no tax rate.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from billing.models import StripeTaxRate
from billing.stripe import client as stripe_client
from billing.tax import TaxDecision, tax_for
from catalog.models import Product

FOUR_PLACES = Decimal("0.0001")  # the percentage as StripeTaxRate stores it


def default_tax_rates(user: User, product: Product | None) -> list[str]:
    """The Stripe TaxRate ids a new Stripe subscription of ``product`` for ``user`` carries:
    none with Stripe Tax on (Stripe computes it), for a reverse charge or a zero rate; else
    the one our rule gives."""
    if getattr(settings, "STRIPE_AUTOMATIC_TAX", False):
        return []
    decision = tax_for(user, product=product)
    if decision.reverse_charge or decision.rate <= 0:
        return []
    return [stripe_tax_rate_id(decision)]


def stripe_tax_rate_id(decision: TaxDecision, *, inclusive: bool = False) -> str:
    """The id of the Stripe TaxRate for ``decision``: the stored one, else a new one made
    through the Stripe client (an idempotency key per rate, so two checkouts at once make
    one) and stored. Raises the Stripe client's errors."""
    percentage = (decision.rate * 100).quantize(FOUR_PLACES)
    country = decision.country
    stored = StripeTaxRate.objects.filter(
        country=country, percentage=percentage, inclusive=inclusive
    ).first()
    if stored is not None:
        return stored.stripe_tax_rate_id
    name = (decision.name or "Tax")[:50]
    params: dict[str, object] = {
        "display_name": name,
        "percentage": float(percentage),
        "inclusive": inclusive,
        "description": f"{name} {percentage.normalize():f}% {country}".strip(),
        "metadata": {"source": "billing.tax"},
    }
    if country:
        params["country"] = country
        params["jurisdiction"] = country
    if name.upper() in ("VAT", "GST"):
        params["tax_type"] = name.lower()
    kind = "inclusive" if inclusive else "exclusive"
    created = stripe_client.create_tax_rate(
        **params, idempotency_key=f"tax-rate-{country or 'none'}-{percentage}-{kind}-{name}"
    )
    try:
        with transaction.atomic():
            row = StripeTaxRate.objects.create(
                country=country,
                percentage=percentage,
                inclusive=inclusive,
                display_name=name,
                stripe_tax_rate_id=created["id"],
            )
    except IntegrityError:
        # Another checkout stored it first (the same Stripe object, by the idempotency key).
        row = StripeTaxRate.objects.get(country=country, percentage=percentage, inclusive=inclusive)
    return row.stripe_tax_rate_id
