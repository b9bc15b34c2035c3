from decimal import Decimal, InvalidOperation

from django import template

from core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ order.total|money:order.currency }}``: minor units shown in the currency's format;
    empty for a line without the amount (a note line)."""
    if amount is None or amount == "":
        return ""
    return format_money(int(amount), currency or "usd")


@register.filter
def rate_percent(rate):
    """``"0.2000"`` -> ``"20%"``; ``"0.0725"`` -> ``"7.25%"``; empty for none."""

    try:
        value = Decimal(str(rate)) * 100
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"{value.normalize():f}%" if value else "0%"
