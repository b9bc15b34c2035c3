"""Admin actions and custom admin URLs that follow the staff policy (``accounts.authority``).

Every model admin registered on the staff site follows the policy: each admin action names its
policy action (``policy_action``), each custom admin URL too (``policy_urls``); the action menu
shows only what the user's role may use, a forged POST of another action does nothing, and a
custom URL answers 403. An action or URL the policy does not name is refused to everyone, so a
new one cannot slip through unchecked. ``perform`` carries out a policy action from the admin.
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern

from accounts import authority
from core.api import DomainError

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object

# Actions and URLs of other projects' admins, named by model label and action / URL name.
THIRD_PARTY_ACTIONS = {
    ("account.EmailAddress", "make_verified"): "accounts.email.verify",
    **{
        ("django_celery_beat.PeriodicTask", name): "system.schedules"
        for name in ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")
    },
}
# Django's own bulk delete follows the model's delete permission (role_has_perm).
DJANGO_ACTIONS = {"delete_selected"}


def policy_action(action_key: str, **options):
    """An admin action that is the staff policy's ``action_key`` (``options`` go to
    ``admin.action``: description, permissions)."""
    authority.rule(action_key)

    def decorate(func):
        func = admin.action(**options)(func)
        func.policy_action = action_key
        return func

    return decorate


class PolicyAdminMixin(_AdminBase):
    """Hides and refuses admin actions and custom URLs the user's role may not use. A model
    admin names its custom URLs' policy actions in ``policy_urls`` (URL name -> action, or a
    tuple of actions that are all needed)."""

    def policy_action_for(self, name: str, func) -> str | None:
        return getattr(func, "policy_action", None) or THIRD_PARTY_ACTIONS.get(
            (self.model._meta.label, name)
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: entry
            for name, entry in actions.items()
            if name in DJANGO_ACTIONS or self._may(request, self.policy_action_for(name, entry[0]))
        }

    @staticmethod
    def _may(request, action_key: str | tuple[str, ...] | None) -> bool:
        """A URL may name several policy actions (all needed), e.g. working a ticket and
        refunding from it."""
        if not action_key:
            return False
        keys = (action_key,) if isinstance(action_key, str) else action_key
        return all(authority.may(request.user, key) for key in keys)

    def custom_url_names(self) -> list[str]:
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(self)}
        return [
            pattern.name
            for pattern in super().get_urls()
            if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard
        ]

    def get_urls(self):
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(self)}
        guarded = []
        for pattern in super().get_urls():
            if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard:
                pattern = URLPattern(
                    pattern.pattern,
                    self._guard(pattern.callback, pattern.name),
                    pattern.default_args,
                    pattern.name,
                )
            guarded.append(pattern)
        return guarded

    def _guard(self, view, url_name: str):
        action_key = getattr(self, "policy_urls", {}).get(url_name)

        def guarded(request, *args, **kwargs):
            # Someone who may not use the admin at all is sent to its login by the view.
            if self.admin_site.has_permission(request) and not self._may(request, action_key):
                raise PermissionDenied(
                    "Your role may not use this page."
                    if action_key
                    else "This page is not in the staff policy, so no one may use it."
                )
            return view(request, *args, **kwargs)

        # The view carries its policy action and the view it guards, as Django's decorators
        # mark the functions they return.
        guarded.policy_action = action_key  # type: ignore[attr-defined]
        guarded.__wrapped__ = view  # type: ignore[attr-defined]
        return guarded


DONE, REQUESTED, REFUSED = "done", "requested", "refused"


def perform(
    modeladmin,
    request,
    *,
    action: str,
    subject,
    payload: dict,
    amount: int,
    currency: str = "",
    done: str,
) -> str:
    """Carry out a policy action from the admin through ``authority.perform`` and say what
    happened to ``subject``: done, waiting for a second person's approval, or refused (the
    refusal's own message). Returns DONE, REQUESTED or REFUSED."""
    try:
        approval = authority.perform(
            action=action,
            payload=payload,
            amount=amount,
            actor=request.user,
            currency=currency,
            reason=payload.get("reason", ""),
        )
    except DomainError as exc:
        notes = " ".join(getattr(exc, "__notes__", []))
        modeladmin.message_user(
            request, f"{subject}: {exc.message} {notes}".strip(), messages.ERROR
        )
        return REFUSED
    if approval.status == "pending":  # support.models.ApprovalStatus.PENDING
        shown = authority.describe_amount(action, amount, currency)
        modeladmin.message_user(
            request,
            f"{subject}: {shown} is above your limit, so approval request "
            f"#{approval.pk} now waits for a second staff member to approve it "
            "(Money › Approval requests).",
            messages.WARNING,
        )
        return REQUESTED
    modeladmin.message_user(request, f"{subject}: {done}.", messages.SUCCESS)
    return DONE
