"""Showing money: integer minor units plus currency, in the currency's own decimals and symbol."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 for USD, 0 for JPY, 3 for KWD)."""
    return get_currency_precision((currency or "").upper())


def to_major_units(amount_minor: int, currency: str) -> Decimal:
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


def format_money(amount_minor: int | None, currency: str, locale: str = "en") -> str:
    """``format_money(1999, "usd") -> "$19.99"``; ``format_money(500, "jpy") -> "¥500"``."""
    if amount_minor is None:
        return ""
    code = (currency or "").upper()
    return format_currency(to_major_units(amount_minor, code), code, locale=locale or "en")
