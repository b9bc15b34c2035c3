"""The current request's IP and user agent, for audit rows written deep inside services."""

import contextvars
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class RequestInfo:
    ip_address: str | None = None
    user_agent: str = ""


_NO_REQUEST = RequestInfo()
_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "request_info", default=None
)


def client_ip(request: HttpRequest) -> str | None:
    # The same resolution django-axes uses for lockouts, so audit rows and lockouts agree.
    # axes.helpers loads axes' settings and models: not when core is imported.
    from axes.helpers import get_client_ip_address  # noqa: PLC0415 - why: the comment above

    return get_client_ip_address(request) or None


def info_from_request(request: HttpRequest) -> RequestInfo:
    return RequestInfo(
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
    )


def set_current(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    return _current.set(info)


def reset_current(token: contextvars.Token[RequestInfo | None]) -> None:
    _current.reset(token)


def current() -> RequestInfo:
    return _current.get() or _NO_REQUEST
