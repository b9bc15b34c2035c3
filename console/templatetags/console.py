from django import template

from console.navigation import groups_for

register = template.Library()


@register.simple_tag(takes_context=True)
def console_groups(context):
    """The job groups and pages the signed-in staff member may open."""
    return groups_for(context["request"])
