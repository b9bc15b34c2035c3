from django import template

from catalog.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ order.total|money:order.currency }}``: minor units shown in the currency's format."""
    return format_money(amount, currency or "usd")
