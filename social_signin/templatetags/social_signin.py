from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from django import template

register = template.Library()


@register.inclusion_tag("social_signin/_buttons.html", takes_context=True)
def social_buttons(context, process="login", label="Continue with"):
    """Buttons for the enabled providers (those with a client id and secret)."""
    request = context["request"]
    return {
        "providers": get_adapter(request).list_providers(request),
        "process": process,
        "label": label,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "next": context.get("redirect_field_value") or "",
    }


@register.inclusion_tag("social_signin/_linked.html", takes_context=True)
def linked_accounts(context):
    request = context["request"]
    accounts = list(SocialAccount.objects.filter(user=request.user).order_by("provider", "pk"))
    linked = {account.provider for account in accounts}
    providers = get_adapter(request).list_providers(request)
    return {
        "accounts": accounts,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "unlinked": [p for p in providers if p.id not in linked],
        "enabled": bool(providers) or bool(accounts),
    }
