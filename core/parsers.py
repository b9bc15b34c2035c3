"""The API's JSON parser: DRF's, with a bound on how deeply a document may nest.

Python's decoder raises RecursionError (a 500) on a document nested about 1,000 levels deep,
and a document just below that still breaks whatever walks it recursively afterwards (the
serializers' own ``json.dumps``, a JSONField on the way to the database). No body of ours comes
close, so a deeper document is refused like any malformed JSON: 400 ``parse_error``.

Kept apart from ``core.api``, which imports DRF's views: DRF's settings import the parser
while the views module is still loading.
"""

from collections.abc import Iterable, Mapping
from typing import IO, Any

from rest_framework import exceptions, parsers

MAX_JSON_DEPTH = 64
TOO_DEEP = f"JSON parse error - the document is nested deeper than {MAX_JSON_DEPTH} levels."


def deeper_than(data: Any, limit: int) -> bool:
    """Whether lists and objects in ``data`` nest more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a document nested deeper than MAX_JSON_DEPTH is a parse error."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP) from None
        if deeper_than(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(TOO_DEEP)
        return data
