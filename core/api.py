"""What every API endpoint shares: the error format, pagination, and domain errors.

Errors are always ``{"code": "...", "detail": "...", "fields": {...}}``. Services raise
``DomainError`` subclasses with a stable ``code``; views never build error bodies themselves.
"""

import math
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from rest_framework import exceptions, status
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core import unavailable

if TYPE_CHECKING:
    _PaginatorMixinBase = BasePagination
else:
    _PaginatorMixinBase = object  # a mixin: the paginator it is mixed into comes next


class DomainError(Exception):
    """A refusal by a service: stable machine code, human message, HTTP status for the API."""

    code: str = "invalid"
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_message: str = "The request could not be completed."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, **extra: Any
    ) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT
    default_message = "The request conflicts with the current state."


class StrictPageSize(_PaginatorMixinBase):
    """For any DRF paginator: ``page_size`` outside 1..max_page_size is a 400, not ignored."""

    page_size_query_param: str | None = "page_size"
    max_page_size: int | None = 100
    page_size: int | None  # the paginator's own (PAGE_SIZE setting)

    def get_page_size(self, request: Request) -> int | None:
        """A ``page_size`` outside 1..max_page_size is refused (400), never silently changed."""
        param = self.page_size_query_param
        raw = request.query_params.get(param) if param else None
        if raw is None:
            return self.page_size
        limit = self.max_page_size
        if not (raw.isascii() and raw.isdigit()) or not (
            int(raw) >= 1 and (limit is None or int(raw) <= limit)
        ):
            raise exceptions.ValidationError(
                {str(param): [f"Must be a whole number from 1 to {limit}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters


class Pagination(StrictPageSize, PageNumberPagination):
    pass


# --- Django's own error answers ------------------------------------------------------------
# Errors raised outside DRF (an unmatched URL, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a
# failed CSRF check, an unhandled exception) reach Django's handlers, which answer HTML pages.
# Under /api/ these answer JSON in the shared shape instead; elsewhere Django's pages stay.


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(code: str, detail: str, status_code: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, "fields": {}}, status=status_code)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: JSON in the shared shape under /api/, HTML elsewhere."""
    if is_api_request(request):
        return error_response("not_found", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def api_bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 under /api/."""
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return error_response("request_too_large", "The request body is too large.", 413)
    return error_response("bad_request", "The request could not be understood.", 400)


def api_permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler403``."""
    if is_api_request(request):
        return error_response(
            "permission_denied", str(exceptions.PermissionDenied.default_detail), 403
        )
    return defaults.permission_denied(request, exception)


def api_csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the same answer DRF's session authentication gives."""
    if is_api_request(request):
        return error_response("permission_denied", f"CSRF Failed: {reason}", 403)
    return csrf.csrf_failure(request, reason=reason)


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def _first_message(value: Any) -> str:
    if isinstance(value, list | tuple) and value:
        return _first_message(value[0])
    if isinstance(value, dict) and value:
        return _first_message(next(iter(value.values())))
    return str(value)


class ServiceUnavailable(DomainError):
    """The database connection was lost or the transaction had to be abandoned; retry."""

    code = unavailable.CODE
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = unavailable.MESSAGE


def domain_error_response(exc: DomainError) -> Response:
    body = {"code": exc.code, "detail": exc.message, "fields": {}}
    body.update(exc.extra)
    return Response(body, status=exc.status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every error answer in the shared shape."""
    if isinstance(exc, unavailable.DATABASE_UNAVAILABLE):
        # The services' own transactions are already rolled back; under ATOMIC_REQUESTS the
        # request's transaction is marked for rollback too.
        unavailable.report(context["request"], exc)
        unavailable.discard_broken_connections()
        set_rollback()
        retry_later = domain_error_response(ServiceUnavailable())
        retry_later["Retry-After"] = str(unavailable.RETRY_AFTER_SECONDS)
        return retry_later
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        message = _first_message(fields)
        response.data = {"code": "invalid", "detail": message, "fields": fields}
        return response
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    detail = getattr(exc, "detail", str(exc))
    response.data = {"code": code, "detail": str(detail), "fields": {}}
    # Throttled.__init__ stores ``wait``; DRF's stubs type only the parameter, not the attribute.
    wait = exc.wait if isinstance(exc, exceptions.Throttled) else None  # type: ignore[attr-defined]
    if wait is not None:
        # The same number as the Retry-After header DRF sets (config.throttling).
        response.data["retry_after"] = math.ceil(wait)
    return response
