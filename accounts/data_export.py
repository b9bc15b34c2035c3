"""The sections of "download my data". Each app registers what it holds about a user.

    from accounts import data_export
    data_export.register("orders", lambda user: [...])   # in the app's AppConfig.ready()

A section function takes the user and returns JSON-able data about that user only (dates
may be returned as date/datetime objects: the export serialises them with DjangoJSONEncoder).
"""

from collections.abc import Callable
from typing import Any

SectionFn = Callable[[Any], Any]
_SECTIONS: dict[str, SectionFn] = {}


def register(section: str, fn: SectionFn) -> None:
    """Add (or replace, on re-import) the export section ``section``."""
    if not section or not callable(fn):
        raise ValueError("register() needs a section name and a callable")
    _SECTIONS[section] = fn


def sections() -> dict[str, SectionFn]:
    return dict(_SECTIONS)


def _iso(value):
    return value.isoformat() if value is not None else None


def profile_section(user) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "email_verified": user.email_verified,
        "email_verified_at": _iso(user.email_verified_at),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "phone": user.phone,
        "date_of_birth": _iso(user.date_of_birth),
        "gender": user.gender,
        "timezone": user.timezone,
        "language": user.language,
        "billing_address": user.billing_address,
        "tax_id": user.tax_id,
        "role": user.role,
        "status": user.status,
        "created_at": _iso(user.created_at),
        "last_login": _iso(user.last_login),
    }


def login_sessions_section(user) -> list[dict]:
    return [
        {"id": s.pk, "ip_address": s.ip_address, "user_agent": s.user_agent,
         "created_at": _iso(s.created_at), "last_seen_at": _iso(s.last_seen_at),
         "expires_at": _iso(s.expires_at), "revoked_at": _iso(s.revoked_at)}
        for s in user.login_sessions.order_by("created_at")
    ]


def api_keys_section(user) -> list[dict]:
    return [
        {"id": k.pk, "name": k.name, "prefix": k.prefix, "scopes": k.scopes,
         "created_at": _iso(k.created_at), "last_used_at": _iso(k.last_used_at),
         "revoked_at": _iso(k.revoked_at)}
        for k in user.api_keys.order_by("created_at")
    ]


def stored_files_section(user) -> list[dict]:
    return [
        {"id": f.pk, "name": f.name, "content_type": f.content_type,
         "size_bytes": f.size_bytes, "url": f.url, "created_at": _iso(f.created_at)}
        for f in user.stored_files.filter(deleted_at=None).order_by("created_at")
    ]


def activity_section(user) -> list[dict]:
    from accounts.models import AuditLog

    return [
        {"action": row.action, "resource_type": row.resource_type,
         "resource_id": row.resource_id, "ip_address": row.ip_address,
         "created_at": _iso(row.created_at)}
        for row in AuditLog.objects.filter(actor=user).order_by("created_at")
    ]


register("profile", profile_section)
register("login_sessions", login_sessions_section)
register("api_keys", api_keys_section)
register("stored_files", stored_files_section)
register("activity", activity_section)
