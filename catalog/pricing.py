"""What a quantity of a price costs: flat per-unit, graduated tiers or volume tiers, as Stripe
computes them (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing)."""

from catalog.models import Price, PricingTier, TiersMode


def _ordered_tiers(price: Price) -> list[PricingTier]:
    # .all() so a prefetch_related("tiers") is used; the open-ended tier (up_to None) is last.
    tiers = list(price.tiers.all())
    return sorted(tiers, key=lambda tier: (tier.up_to is None, tier.up_to or 0))


def price_for_quantity(price: Price, quantity: int) -> int:
    """Total in minor units of ``price.currency`` for ``quantity`` units (quantity >= 1).

    - No ``tiers_mode``: ``unit_amount * quantity``.
    - ``volume``: the whole quantity at the tier it reaches (``up_to`` >= quantity), plus that
      tier's flat amount.
    - ``graduated``: each tier charges the units that fall into it, plus its flat amount once
      any unit falls into it; the tier totals are summed.

    Raises ValueError for a quantity below 1 or tiers that do not cover the quantity (the last
    tier must be open-ended, as Stripe requires ``up_to=inf``).
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"quantity must be a positive integer, got {quantity!r}")
    if not price.tiers_mode:
        return price.unit_amount * quantity

    tiers = _ordered_tiers(price)
    if not tiers:
        raise ValueError(f"price {price.pk} is tiered but has no tiers")

    if price.tiers_mode == TiersMode.VOLUME:
        for tier in tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                return tier.unit_amount * quantity + tier.flat_amount
        raise ValueError(f"tiers of price {price.pk} stop before quantity {quantity}")

    total = 0
    lower = 0  # units already charged by earlier tiers
    for tier in tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = upper - lower
        if units <= 0:
            break
        total += tier.unit_amount * units + tier.flat_amount
        lower = upper
        if lower >= quantity:
            return total
    raise ValueError(f"tiers of price {price.pk} stop before quantity {quantity}")


def unit_amount_for_quantity(price: Price, quantity: int) -> int:
    """The average unit price (rounded down) for display next to a quantity."""
    return price_for_quantity(price, quantity) // quantity


def tier_rows(price: Price) -> list[dict]:
    """Tiers as rows a person reads: ``{"first": 1, "last": 5 | None, "unit_amount",
    "flat_amount"}`` (``last`` None means "and above")."""
    rows, first = [], 1
    for tier in _ordered_tiers(price):
        rows.append(
            {
                "first": first,
                "last": tier.up_to,
                "unit_amount": tier.unit_amount,
                "flat_amount": tier.flat_amount,
            }
        )
        if tier.up_to is None:
            break
        first = tier.up_to + 1
    return rows
