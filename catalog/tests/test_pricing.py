"""price_for_quantity against Stripe's documented tier examples, and money formatting."""

import pytest

from catalog.factories import PriceFactory, PricingTierFactory
from catalog.pricing import price_for_quantity, tier_rows
from core.money import format_money

pytestmark = pytest.mark.django_db

# https://docs.stripe.com/billing/subscriptions/tiers: up_to 5 at $5, 10 at $4, 15 at $3,
# 20 at $2, inf at $1.
STRIPE_TIERS = [(5, 500), (10, 400), (15, 300), (20, 200), (None, 100)]


def _tiered(mode, tiers, flat=None):
    price = PriceFactory(tiers_mode=mode, unit_amount=0)
    flat = flat or {}
    # Created out of order on purpose: the function sorts by up_to, open-ended last.
    for up_to, unit_amount in reversed(tiers):
        PricingTierFactory(
            price=price, up_to=up_to, unit_amount=unit_amount, flat_amount=flat.get(up_to, 0)
        )
    return price


def test_per_unit_price_multiplies_like_stripes_per_unit_example():
    price = PriceFactory(unit_amount=500)
    assert [price_for_quantity(price, q) for q in (1, 5, 6, 20, 25)] == [
        500,
        2500,
        3000,
        10000,
        12500,
    ]


@pytest.mark.parametrize(
    ("quantity", "total"), [(1, 500), (5, 2500), (6, 2400), (20, 4000), (25, 2500)]
)
def test_volume_tiers_match_stripes_documented_totals(quantity, total):
    price = _tiered("volume", STRIPE_TIERS)
    assert price_for_quantity(price, quantity) == total


@pytest.mark.parametrize(
    ("quantity", "total"), [(1, 500), (5, 2500), (6, 2900), (20, 7000), (25, 7500)]
)
def test_graduated_tiers_match_stripes_documented_totals(quantity, total):
    # Stripe: "the total cost for an amount of 6 is $29: $25 for the 5 that fall into the
    # first tier and $4 for the 1 in the second".
    price = _tiered("graduated", STRIPE_TIERS)
    assert price_for_quantity(price, quantity) == total


def test_typographic_volume_example_from_stripes_pricing_models_page():
    # 1-5 fonts at 7 USD, 6-10 at 6.50 USD, 11+ at 6 USD (volume): 1 -> 7, 5 -> 35, 6 -> 39,
    # 20 -> 120, 25 -> 150.
    price = _tiered("volume", [(5, 700), (10, 650), (None, 600)])
    assert [price_for_quantity(price, q) for q in (1, 5, 6, 20, 25)] == [
        700,
        3500,
        3900,
        12000,
        15000,
    ]


def test_graduated_flat_fees_are_charged_once_per_tier_reached():
    # Stripe's flat_amount is "the flat billing amount for an entire tier": a $10 base for
    # the first 5 units plus $5 each, then $4 each with a $2 fee for the next tier.
    price = _tiered("graduated", [(5, 500), (None, 400)], flat={5: 1000, None: 200})
    assert price_for_quantity(price, 1) == 1000 + 500
    assert price_for_quantity(price, 5) == 1000 + 2500
    assert price_for_quantity(price, 7) == 1000 + 2500 + 200 + 800


def test_volume_flat_fee_is_the_reached_tiers_only():
    price = _tiered("volume", [(5, 500), (None, 400)], flat={5: 1000, None: 200})
    assert price_for_quantity(price, 5) == 2500 + 1000
    assert price_for_quantity(price, 7) == 2800 + 200


def test_quantity_must_be_a_positive_integer():
    price = PriceFactory(unit_amount=500)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            price_for_quantity(price, bad)


def test_tiers_that_stop_before_the_quantity_are_refused():
    price = _tiered("volume", [(5, 500)])
    with pytest.raises(ValueError):
        price_for_quantity(price, 6)
    graduated = _tiered("graduated", [(5, 500)])
    with pytest.raises(ValueError):
        price_for_quantity(graduated, 6)


def test_tier_rows_show_ranges_for_people():
    price = _tiered("graduated", [(5, 500), (10, 400), (None, 300)])
    assert [(r["first"], r["last"]) for r in tier_rows(price)] == [(1, 5), (6, 10), (11, None)]


def test_money_uses_each_currencys_own_decimals_and_symbol():
    assert format_money(1999, "usd") == "$19.99"
    assert format_money(0, "usd") == "$0.00"
    assert format_money(500, "jpy") == "¥500"
    assert format_money(1234567, "eur") == "€12,345.67"
    assert format_money(1500, "kwd") == "KWD1.500"
    assert format_money(1999, "eur", locale="de") == "19,99\xa0€"
