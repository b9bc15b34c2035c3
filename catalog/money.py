"""Showing money: integer minor units plus currency, in the currency's own decimals and symbol."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 for USD, 0 for JPY, 3 for KWD)."""
    return get_currency_precision((currency or "").upper())


def to_major_units(amount_minor: int, currency: str) -> Decimal:
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("12.50")`` USD -> 1250. Raises ValueError when ``amount`` has more decimals
    than the currency has (``"0.001"`` USD, ``"1.5"`` JPY) or is not a finite number."""
    exponent = currency_exponent(currency)
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError("Enter an amount.")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"Use at most {exponent} decimals for {(currency or '').upper()}.")
    return int(minor)


def format_money(amount_minor: int | None, currency: str, locale: str = "en") -> str:
    """``format_money(1999, "usd") -> "$19.99"``; ``format_money(500, "jpy") -> "¥500"``."""
    if amount_minor is None:
        return ""
    code = (currency or "").upper()
    return format_currency(to_major_units(amount_minor, code), code, locale=locale or "en")
