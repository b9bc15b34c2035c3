"""The plain product list's page as JSON text written by PostgreSQL.

The plain listing (``catalog.paging``: no filter, the same statement every time) is the API's
busiest read. Built the usual way, each page's 25 rows are loaded into Python values, turned
into dicts by the serializer and encoded again by the renderer: several times what PostgreSQL
takes to run the query. Here the statement returns each product already as a JSON object of
the fields the database can write exactly (``json_build_object``: numbers, strings, arrays,
the categories, the UTC timestamp in the API's format, the product's path), and Python adds
the two it formats itself: ``from_price`` (its ``display`` comes from Babel) and ``rating``
(Python's rounding). The answer is the one the serializer gives (a test compares them field
by field); it is used only when the answer is JSON and the request's time zone is UTC, and
the serializer answers every other request.
"""

import functools
import json
from typing import Any

from django.utils import timezone

from catalog.paging import CompiledValuesQuery
from catalog.serializers import money, product_url_template, rating

# The compiled listing (``CompiledValuesQuery.sql``, ending in LIMIT %s OFFSET %s) is the
# subquery ``q``; its columns keep their names. DRF writes a timestamp as ISO 8601 with the
# microseconds only when there are some, and "Z" for UTC.
_PAGE_TEMPLATE = """
    SELECT json_build_object(
               'id', q.id, 'slug', q.slug, 'name', q.name,
               'short_description', q.short_description, 'type', q.type, 'tags', q.tags,
               'featured', q.featured, 'images', q.images,
               'categories', to_json(q.category_refs),
               'credits_granted', q.credits_granted,
               'published_at', to_char(q.published_at AT TIME ZONE 'UTC',
                                       'YYYY-MM-DD"T"HH24:MI:SS')
                   || CASE WHEN to_char(q.published_at, 'US') = '000000' THEN ''
                           ELSE '.' || to_char(q.published_at, 'US') END
                   || 'Z',
               'url', %s || q.slug || %s)::text,
           q.from_amount, q.from_currency, q.rating_average, q.rating_count, q._total
    FROM ({listing}) AS q
"""


@functools.lru_cache(maxsize=4096)
def _money_json(amount: int | None, currency: str | None) -> str:
    return json.dumps(money(amount, currency), ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def _rating_json(average: float | None, count: int) -> str:
    return json.dumps(rating(average, count), separators=(",", ":"))


def applies() -> bool:
    """Whether the database can write the timestamps: the request's zone is UTC."""
    return timezone.get_current_timezone_name() == "UTC"


class ProductPageJSON:
    """The page statement for one compiled listing."""

    def __init__(self, compiled: CompiledValuesQuery):
        self.compiled = compiled
        self.sql = _PAGE_TEMPLATE.format(listing=compiled.sql)

    def rows(self, *, offset: int, limit: int) -> list[tuple[Any, ...]]:
        """``(json_text_without_price_and_rating, from_amount, from_currency,
        rating_average, rating_count, total)`` for each row of the page."""
        prefix, suffix = product_url_template().split("{slug}")
        return self.compiled.fetch(self.sql, (prefix, suffix), offset=offset, limit=limit)


def product_json(row: tuple[Any, ...]) -> str:
    """One product of the page as JSON text, ``from_price`` and ``rating`` added in front."""
    text, amount, currency, average, count, _total = row
    return (
        f'{{"from_price":{_money_json(amount, currency)},'
        f'"rating":{_rating_json(average, count)},{text[1:]}'
    )
