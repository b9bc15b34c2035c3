"""Log lines that say which request or task wrote them, and never show a secret.

``RequestIdMiddleware`` gives every request an id: the caller's ``X-Request-ID`` when it sends
a sane one (a load balancer's), else a new one; the response carries it back in the same
header. Tasks queued during a request carry it in their message headers, so a task's lines
name the request that queued it too.

``JsonFormatter`` writes one JSON object per line (``LOG_FORMAT=json``, the production
default): time, level, logger, message, the request id, the signed-in user's id and the
Celery task id when there is one, any ``extra`` fields, and the traceback. The message, the
traceback and the extras go through core.redaction, the audit log's rule.

Nothing here imports a model: logging is configured before Django's apps are loaded.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from celery import signals
from django.core.signals import request_finished
from django.utils.functional import empty

from core.redaction import redact, redact_text

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "log_request_id", default=None
)
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "log_request", default=None
)
_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_task_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdMiddleware:
    """Sets the request id for the logs and answers it in ``X-Request-ID``. First in the
    middleware list, so every line a request writes has it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a 4xx/5xx answer ("Not Found: ...") after the
        # middleware returned. The request_finished signal clears them (end_request).
        _request_id.set(request.request_id)
        _request.set(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


def end_request(**kwargs) -> None:
    """``request_finished``: the request's lines are written; later lines of this thread
    belong to no request."""
    _request_id.set(None)
    _request.set(None)


request_finished.connect(end_request, dispatch_uid="config.logs.end_request")


def _loaded_user_id(request) -> int | None:
    """The id of the request's user if something already loaded it. A log call must not
    query the database (it may be logging that the database is down)."""
    user = getattr(request, "__dict__", {}).get("user")
    if user is None or getattr(user, "_wrapped", user) is empty:
        return None
    return getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None


# --- Celery: the task id, and the id of the request that queued the task ---------------------


def on_before_task_publish(headers=None, **kwargs) -> None:
    request_id = _request_id.get()
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def on_task_prerun(task_id=None, task=None, **kwargs) -> None:
    _task_id.set(task_id)
    queued_by = getattr(getattr(task, "request", None), "request_id", None)
    _request_id.set(queued_by if isinstance(queued_by, str) else None)


def on_task_postrun(**kwargs) -> None:
    _task_id.set(None)
    _request_id.set(None)


def connect_celery_signals() -> None:

    signals.before_task_publish.connect(
        on_before_task_publish, weak=False, dispatch_uid="config.logs.request_id"
    )
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="config.logs.prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="config.logs.postrun")


# --- the JSON formatter ----------------------------------------------------------------------

# What every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# Django's request logging passes the request object itself; its id is taken from it.
_SKIPPED_EXTRAS = {"request"}


def context(record: logging.LogRecord) -> dict:
    """request_id, user_id and task_id for ``record`` (those that apply)."""
    request = _request.get() or getattr(record, "request", None)
    found = {
        "request_id": _request_id.get() or getattr(request, "request_id", None),
        "user_id": _loaded_user_id(request) if request is not None else None,
        "task_id": _task_id.get(),
    }
    return {name: value for name, value in found.items() if value is not None}


def _plain(value):
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in redact(value).items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return redact_text(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
            **context(record),
        }
        extras = {
            name: value
            for name, value in vars(record).items()
            if name not in _STANDARD and name not in _SKIPPED_EXTRAS and name not in entry
        }
        entry.update(_plain(extras))
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)
