from decimal import Decimal

from django import template

from analytics.views import dashboard_context
from core.money import currency_exponent

register = template.Library()


@register.simple_tag(takes_context=True)
def analytics_dashboard(context) -> dict:
    """The dashboard's data for the analytics app index (see analytics.admin)."""
    return dashboard_context(context["request"])


@register.filter
def metric_value(value, unit_and_currency: str) -> str:
    """Format a rollup value: money from minor units, ratios as %, seconds as minutes."""
    if value is None:
        return "—"
    unit, _, currency = unit_and_currency.partition(":")
    value = Decimal(value)
    if unit == "money":
        exponent = currency_exponent(currency or "usd")
        major = value.scaleb(-exponent)
        return f"{major:,.{exponent}f} {currency.upper()}".strip()
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "seconds":
        return f"{value / 60:,.1f} min"
    return f"{value:,.0f}"


@register.filter
def squash(text: str) -> str:
    return " ".join((text or "").split())
