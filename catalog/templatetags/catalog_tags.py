"""Template helpers: ``{% load catalog_tags %}{{ price.unit_amount|money:price.currency }}``."""

from django import template

from catalog.money import format_money

register = template.Library()


@register.filter
def money(amount_minor, currency="usd"):
    """Minor units to a localised amount with the currency's symbol and decimals."""
    if amount_minor is None or amount_minor == "":
        return ""
    try:
        return format_money(int(amount_minor), currency or "usd")
    except (TypeError, ValueError):
        return ""


@register.filter
def stars(rating):
    """4.4 -> "★★★★☆" (rounded to whole stars) for a compact visual; always paired with text."""
    if rating is None:
        return ""
    full = max(0, min(5, round(float(rating))))
    return "★" * full + "☆" * (5 - full)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def bytes_label(value):
    """Storage quota for the pricing page: None is unlimited."""
    if value is None:
        return "Unlimited"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:g} {unit}" if unit == "B" else f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} TB"


@register.filter
def key_label(value):
    """"priority_support" -> "Priority support"."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else ""
