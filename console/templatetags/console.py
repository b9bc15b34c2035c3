from django import template

from console.navigation import groups_for

register = template.Library()


@register.simple_tag(takes_context=True)
def console_groups(context):
    """The job groups and pages the signed-in staff member may open."""
    return groups_for(context["request"])


@register.simple_tag(takes_context=True)
def may(context, action: str) -> bool:
    """Whether the signed-in staff member's role may take the staff policy's ``action``."""
    from accounts import authority

    return authority.may(context["request"].user, action)
