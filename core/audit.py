"""Writing the audit log. Call inside the same transaction as the change it records."""

from typing import Any

from core import request_context
from core.models import AuditLog
from core.redaction import redact  # the rule the logs use too


def record(
    *,
    actor: Any,
    action: str,
    resource: Any = None,
    resource_type: str = "",
    resource_id: Any = "",
    old: dict | None = None,
    new: dict | None = None,
    **context: Any,
) -> AuditLog:
    """Append one audit row. ``resource`` may be a model instance (type and id taken from it)."""
    if resource is not None:
        resource_type = resource_type or resource._meta.label
        resource_id = resource_id or resource.pk
    info = request_context.current()
    actor_obj = actor if getattr(actor, "pk", None) else None
    return AuditLog.objects.create(
        actor=actor_obj,
        actor_email=getattr(actor_obj, "email", "") or "",
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id or ""),
        old_values=redact(old),
        new_values=redact(new),
        context=redact(context),
        ip_address=info.ip_address,
        user_agent=info.user_agent,
    )
