"""Admin actions that change money or access ask once before they run."""

from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse

CONFIRM_TEMPLATE = "backoffice/confirm_action.html"


def confirm_first(question: str, button: str, *, describe=str):
    """An admin action that asks once before it runs.

    The first POST (from the changelist's action menu) renders a page listing the selected
    rows (each as ``describe(row)`` says) with a confirm button; only a POST carrying
    ``confirm=yes`` runs the action. The page posts the selection back as it came ("all
    across pages" included)."""

    def decorate(action):
        def wrapper(modeladmin, request, queryset):
            if request.POST.get("confirm") != "yes":
                return confirmation_page(
                    modeladmin,
                    request,
                    queryset,
                    question=question,
                    button=button,
                    action=action.__name__,
                    describe=describe,
                )
            return action(modeladmin, request, queryset)

        wrapper.__name__ = action.__name__
        wrapper.__doc__ = action.__doc__
        return wrapper

    return decorate


def confirmation_page(
    modeladmin, request, queryset, *, question: str, button: str, action: str, describe=str
) -> TemplateResponse:
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        CONFIRM_TEMPLATE,
        {
            **modeladmin.admin_site.each_context(request),
            "opts": opts,
            "title": question,
            "question": question,
            "button": button,
            "action": action,
            "rows": [describe(obj) for obj in queryset],
            "select_across": request.POST.get("select_across", "0"),
            "ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            or [str(obj.pk) for obj in queryset],
            "changelist": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        },
    )
