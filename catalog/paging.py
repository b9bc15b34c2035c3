"""The product list's pagination: the page's rows and the total in one query, and for the
plain listing (no filter), that query compiled once per process.

The product list's statement has six correlated subqueries (prices, variants, categories);
Django compiles it again for every request, and compiling costs several times what
PostgreSQL takes to run it. The plain listing (only ``page``, ``page_size`` or ``ordering``
in the query string) is the same statement every time but for its LIMIT and OFFSET, so its
SQL is compiled once and run with those two as parameters, as a prepared statement on the
connection (core.prepared: PostgreSQL plans it once too); rows come back through the same
converters and in the same shape (dicts of ``values()``) as the ORM would give.
"""

from collections.abc import Callable
from typing import Any

from django.core.paginator import EmptyPage, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Count, QuerySet, Window

from core.api import Pagination
from core.prepared import prepared_cursor

# PostgreSQL's OFFSET is a bigint.
_MAX_OFFSET = 2**63 - 1
# Query-string keys that change nothing but the ORDER BY, LIMIT and OFFSET.
PLAIN_LISTING_KEYS = frozenset({"page", "page_size", "ordering"})
# Compiled statements kept per process (keys come from the query string: bounded).
MAX_COMPILED = 64
_compiled: dict[tuple, "CompiledValuesQuery"] = {}


class CompiledValuesQuery:
    """A ``values()`` queryset's SQL, compiled once, run for any LIMIT and OFFSET."""

    def __init__(self, queryset: QuerySet):
        query = queryset.query
        self.using = queryset.db
        self.compiler = query.get_compiler(using=self.using)
        sql, params = self.compiler.as_sql()
        self.sql = f"{sql} LIMIT %s OFFSET %s"
        self.params = tuple(params)
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]

    def fetch(
        self, sql: str, leading: tuple = (), *, offset: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (this statement's text, or one that wraps it), its parameters
        after ``leading``; no converters applied."""
        # The same text every time: prepared once per connection on the default database.
        cursor_for = prepared_cursor if self.using == DEFAULT_DB_ALIAS else None
        with cursor_for() if cursor_for else connections[self.using].cursor() as cursor:
            cursor.execute(sql, (*leading, *self.params, limit, offset))
            return cursor.fetchall()

    def rows(self, *, offset: int, limit: int) -> list[dict]:
        fetched = self.fetch(self.sql, offset=offset, limit=limit)
        names = self.names
        return [
            dict(zip(names, row, strict=True))
            for row in self.compiler.results_iter(results=[fetched])
        ]


def compiled_for(key: tuple, queryset: Callable[[], QuerySet]) -> CompiledValuesQuery:
    """The statement compiled for ``key``; ``queryset()`` builds it the first time only."""
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = CompiledValuesQuery(queryset())
        if len(_compiled) < MAX_COMPILED:
            _compiled[key] = compiled
    return compiled


class CountInPageQueryPaginator(DjangoPaginator):
    """Django's paginator, except that the total comes with the page's rows
    (``COUNT(*) OVER ()`` in the same query) instead of a COUNT query of its own. Only a
    page past the end, which has no row to carry the total, counts separately. With a
    ``compiled_key`` (the plain listing) the page's statement is compiled once per key."""

    object_list: QuerySet[Any]  # an API listing: always a queryset

    def __init__(
        self,
        *args,
        compiled_key: tuple | None = None,
        page_json: Callable[[CompiledValuesQuery], Any] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.compiled_key = compiled_key
        # For the compiled listing, the view's page-as-JSON statement (``rows()`` giving
        # tuples whose last value is the total), used instead of the rows as dicts.
        self.page_json = page_json if compiled_key is not None else None

    def page(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > _MAX_OFFSET:  # past any real end, and past SQL's OFFSET
            return self._get_page([], self.validate_number(number), self)
        rows = self._rows(offset=bottom, limit=self.per_page)
        if rows:
            self.count = rows[0][-1] if self.page_json else rows[0]["_total"]
        elif number == 1:
            self.count = 0
        # Past the end: validate_number counts (one more query) and raises EmptyPage.
        return self._get_page(rows, self.validate_number(number), self)

    def _rows(self, *, offset: int, limit: int) -> list[Any]:
        if self.compiled_key is None:
            return list(self._with_total()[offset : offset + limit])
        compiled = compiled_for(self.compiled_key, self._with_total)
        if self.page_json is not None:
            return self.page_json(compiled).rows(offset=offset, limit=limit)
        return compiled.rows(offset=offset, limit=limit)

    def _with_total(self) -> QuerySet:
        return self.object_list.annotate(_total=Window(Count("*")))


class CountInPageQueryPagination(Pagination):
    """For a view whose queryset is a ``values()`` queryset that depends on nothing but the
    query string (no user, no clock). A view may set ``page_json`` before paginating (see
    CountInPageQueryPaginator); ``json_page`` then tells whether the page came that way."""

    page_json: Callable[[CompiledValuesQuery], Any] | None = None

    @property
    def json_page(self) -> bool:
        return self.page_json is not None and self._compiled_key is not None

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        if params.keys() <= PLAIN_LISTING_KEYS:
            self._compiled_key = (type(view).__qualname__, params.get("ordering", ""))
        else:
            self._compiled_key = None
        return super().paginate_queryset(queryset, request, view)

    def django_paginator_class(self, object_list, per_page):  # what DRF builds per request
        return CountInPageQueryPaginator(
            object_list, per_page, compiled_key=self._compiled_key, page_json=self.page_json
        )
