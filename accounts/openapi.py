"""OpenAPI: document the error answers every /api/v1/ operation can give.

drf-spectacular documents only what each view declares, so most operations listed only their
2xx answer while the shared exception handler (core.api.exception_handler) can also answer
400/401/403/404 with `{"code", "detail", "fields"}`, and every operation is rate-limited
(429, config.throttling). The fuzzer (tests/test_api_fuzz.py)
flags every such answer as undocumented. This postprocessing hook adds them where they can
happen, without overriding what a view declared itself.

Register it after drf-spectacular's own hook:
    SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.openapi.document_error_responses",
    ]
"""

ERROR_COMPONENT = "ApiError"
ERROR_SCHEMA = {
    "type": "object",
    "description": "The shared error envelope of core.api.exception_handler.",
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "detail": {"type": "string", "description": "Human-readable message."},
        "fields": {
            "type": "object",
            "description": "Per-field messages, for validation errors: a list of messages, "
            "or for a list or nested input, the same shape per item.",
        },
        "entitlement": {
            "type": "string",
            "description": "With code `entitlement_required`: what the plan lacks.",
        },
        "plans": {
            "type": "array",
            "items": {"type": "string"},
            "description": "With code `entitlement_required`: slugs of the plans on sale "
            "that include it, cheapest first.",
        },
        "retry_after": {
            "type": "integer",
            "description": "With code `throttled`: seconds to wait, as in the "
            "`Retry-After` header.",
        },
    },
    "required": ["code", "detail"],
}
_UNSAFE = {"post", "put", "patch", "delete"}
_DESCRIPTIONS = {
    400: "Invalid input (code `invalid` or a specific code).",
    401: "Not authenticated, or the credentials sent are not valid.",
    403: "Not allowed for this user (code `entitlement_required` when a customer's API key "
    "comes without a plan that includes `api_access`, or the plan lacks what the operation "
    "needs; the body names the plans that include it in `plans`), or a session write "
    "without the CSRF token.",
    404: "No such object for this user (another customer's object answers 404 too).",
    415: "The body's Content-Type is not one this operation reads, or it cannot be parsed.",
    429: "Too many requests (code `throttled`): try again after `Retry-After` seconds.",
}


def _json_error(status: int) -> dict:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}
        },
    }


def _not_found() -> dict:
    answer = _json_error(404)
    # A path segment its converter refuses (e.g. "abc" for an <int:>) never reaches the API
    # view: Django's URL resolver answers with its own HTML page.
    answer["content"]["text/html"] = {"schema": {"type": "string"}}
    return answer


def error_statuses(path: str, method: str, operation: dict) -> set[int]:
    """The error statuses an operation can answer, from what its definition says it takes."""
    # Any operation: a bad `Authorization: Bearer` header is refused first, and every client
    # has a rate limit.
    statuses = {401, 429}
    security = operation.get("security") or []
    anonymous_allowed = not security or {} in security
    # Any operation that takes an API key: a customer's key without a plan that includes
    # api_access is refused (accounts.entitlements), public reads included.
    takes_credentials = any(security)
    if not anonymous_allowed or method in _UNSAFE or takes_credentials:
        statuses.add(403)
    query = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    # A page past the last one, or a cursor that is not ours, answers 404.
    if "{" in path or "page" in query or "cursor" in query:
        statuses.add(404)
    if operation.get("requestBody") or query:
        statuses.add(400)
    if operation.get("requestBody"):
        statuses.add(415)
    return statuses


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook; see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(path, method, operation)):
                if str(status) not in responses:
                    responses[str(status)] = _not_found() if status == 404 else _json_error(status)
            declared_404 = responses.get("404")
            if "{" in path and declared_404 and "content" in declared_404:
                declared_404["content"].setdefault("text/html", {"schema": {"type": "string"}})
    return result
