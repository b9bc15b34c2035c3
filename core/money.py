"""Showing money: integer minor units plus currency, in the currency's own decimals and symbol."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, get_currency_precision


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 for USD, 0 for JPY, 3 for KWD)."""
    return get_currency_precision((currency or "").upper())


def to_major_units(amount_minor: int, currency: str) -> Decimal:
    """1250 USD -> ``Decimal("12.50")``; 500 JPY -> ``Decimal("500")``."""
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


# The largest amount a money column holds: PostgreSQL's bigint, in minor units.
MINOR_UNITS_MAX = 2**63 - 1


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("12.50")`` USD -> 1250. Raises ValueError, with a message for people, when
    ``amount`` has more decimals than the currency has (``"0.001"`` USD, ``"1.5"`` JPY), is
    not a finite number, or is too large for a money column (``MINOR_UNITS_MAX``)."""
    exponent = currency_exponent(currency)
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError("Enter an amount.")
    # Read the digits exactly (no arithmetic, so no rounding to the context's precision and
    # no huge integer built from an exponent such as 1E+999999999).
    sign, digits, power = amount.as_tuple()
    assert isinstance(power, int)  # a finite Decimal's exponent is a number, not "n"/"N"/"F"
    if not any(digits):
        return 0
    while power < 0 and digits[-1] == 0:  # 12.50 has one meaningful decimal
        digits, power = digits[:-1], power + 1
    if -power > exponent:
        raise ValueError(f"Use at most {exponent} decimals for {(currency or '').upper()}.")
    if amount.adjusted() + exponent > len(str(MINOR_UNITS_MAX)):
        raise _too_large(currency)
    minor = int(Decimal((sign, digits, power + exponent)))
    if abs(minor) > MINOR_UNITS_MAX:
        raise _too_large(currency)
    return minor


def _too_large(currency: str) -> ValueError:
    return ValueError(
        f"This amount is too large: at most {format_money(MINOR_UNITS_MAX, currency)}."
    )


def format_money(amount_minor: int | None, currency: str, locale: str = "en") -> str:
    """``format_money(1999, "usd") -> "$19.99"``; ``format_money(500, "jpy") -> "¥500"``."""
    if amount_minor is None:
        return ""
    code = (currency or "").upper()
    return format_currency(to_major_units(amount_minor, code), code, locale=locale or "en")


def display_fields(obj: Any, names: Iterable[str], currency: str | None = None) -> dict[str, str]:
    """``{"total": "$19.00", ...}`` for the money fields ``names`` of ``obj`` (minor units)
    in its currency: the ``display`` part of an API answer."""
    code = currency or obj.currency
    return {name: format_money(getattr(obj, name), code) for name in names}
