from django import template
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist

from accounts import authority
from backoffice.customers import CUSTOMER_FIELDS, customer_page_url
from console import unanswered
from console.navigation import groups_for

register = template.Library()


@register.simple_tag(takes_context=True)
def console_groups(context):
    """The job groups and pages the signed-in staff member may open."""
    return groups_for(context["request"])


@register.simple_tag(takes_context=True)
def may(context, action: str) -> bool:
    """Whether the signed-in staff member's role may take the staff policy's ``action``."""
    return authority.may(context["request"].user, action)


@register.simple_tag
def customer_page_of(obj) -> str:
    """The customer page of the customer ``obj`` belongs to (its user, customer or owner), or
    "" when it belongs to no customer."""
    if obj is None or getattr(obj, "pk", None) is None:
        return ""
    if obj._meta.label == settings.AUTH_USER_MODEL:
        user = obj
    else:
        user = next(
            (
                getattr(obj, name)
                for name in CUSTOMER_FIELDS
                if _is_user_field(obj, name) and getattr(obj, name) is not None
            ),
            None,
        )
    if user is None or getattr(user, "role", "") != "CUSTOMER":
        return ""
    return customer_page_url(user.pk)


def _is_user_field(obj, name: str) -> bool:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return field.is_relation and field.related_model is get_user_model()


@register.simple_tag(takes_context=True)
def unanswered_questions_card(context):
    """The home page's "Top unanswered questions" card, or None for a role that does not
    work on the help bot's questions."""
    return unanswered.card_for(context["request"])
