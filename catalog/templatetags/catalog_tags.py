"""Template helpers: ``{% load catalog_tags %}{{ price.unit_amount|money:price.currency }}``."""

from django import template

from core.money import format_money

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


# How known entitlement keys read on the pricing page; other keys are spelled out from the key.
ENTITLEMENT_LABELS = {
    "ai_text_chat": "AI text chat",
    "ai_image_generation": "AI image generation",
    "ai_video_generation": "AI video generation",
    "shorts": "Shorts scripts and media",
    "api_access": "API access",
    "sso": "Single sign-on (SSO)",
    "priority_support": "Priority support",
    "community_support": "Community support",
    "invoice_billing": "Pay by invoice",
}


@register.filter
def key_label(value):
    """ "priority_support" -> "Priority support" (known keys have a hand-written label)."""
    key = str(value or "").strip()
    if key in ENTITLEMENT_LABELS:
        return ENTITLEMENT_LABELS[key]
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:].lower() if text else ""
