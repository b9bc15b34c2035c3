"""Searches and list filters of a large table that an index answers.

Django's changelist searches with ``UPPER(column) LIKE '%term%'``, joins included, and lists
the distinct values of a filter's column with a DISTINCT over the table: both read every row.
Each ``Search`` here sends one kind of term to the index that answers it, and
``IndexedValuesFilter`` finds a column's values by skipping through its index.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q
from psycopg import sql


@dataclass(frozen=True)
class Search:
    """One way staff find rows of a large table that an index answers: a term that ``fits``
    (a regular expression the whole term matches) selects the rows ``condition(model, term)``
    gives. A search tries every ``Search`` that fits and shows the rows any of them finds."""

    label: str
    fits: str
    condition: Callable

    def matches(self, term: str) -> bool:
        return re.fullmatch(self.fits, term) is not None


def by_id(label: str = "id") -> Search:
    return Search(label, r"\d{1,18}", lambda model, term: Q(pk=int(term)))


def by_exact(
    field: str, *, label: str, fits: str = r"\S+", normalize: Callable[[str], str] = str
) -> Search:
    """The term is the field's whole value (a unique or indexed column)."""
    return Search(label, fits, lambda model, term: Q(**{field: normalize(term)}))


def by_prefix(
    field: str, *, label: str, fits: str = r"\S+", normalize: Callable[[str], str] = str
) -> Search:
    """The field's value starts with the term: ``LIKE 'term%'``, which a btree index on the
    column answers (Django's ``varchar_pattern_ops`` index of a unique or indexed CharField,
    or any btree under the C collation). Case-sensitive: ``normalize`` puts the term in the
    case the column is stored in."""
    return Search(label, fits, lambda model, term: Q(**{f"{field}__startswith": normalize(term)}))


USERS_MATCHED_MAX = 50  # users an e-mail search looks at; a longer prefix narrows it


def user_ids_by_email(term: str) -> list[int]:
    """Users (soft-deleted ones too) whose e-mail starts with ``term``: e-mails are stored
    lower-case, so this is ``email LIKE 'term%'`` on the e-mail's index."""
    users = get_user_model()._base_manager
    return list(
        users.filter(email__startswith=term.strip().lower())
        .order_by("email")
        .values_list("pk", flat=True)[:USERS_MATCHED_MAX]
    )


def by_user_email(field: str = "user", *, label: str = "e-mail (or its beginning)") -> Search:
    """Rows of the users whose e-mail starts with the term, through ``field`` (a path to a
    user foreign key). The users are found first, on the users' table, so the large table is
    read through its index on ``field``, never joined and scanned."""
    return Search(
        label, r"[^\s]+", lambda model, term: Q(**{f"{field}__in": user_ids_by_email(term)})
    )


def by_related(
    field: str,
    lookup: str,
    *,
    label: str,
    fits: str,
    normalize: Callable[[str], str] = str,
    limit: int = 50,
) -> Search:
    """Rows pointing (through the foreign key ``field``) at the rows whose ``lookup`` matches
    the term, found first on their own (small, indexed) table."""

    def condition(model, term):
        related = model._meta.get_field(field).related_model._base_manager
        ids = list(
            related.filter(**{lookup: normalize(term)})
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        return Q(**{f"{field}__in": ids})

    return Search(label, fits, condition)


def by_full_text(
    field: str, *, label: str = "words", config: str = "english", through: str | None = None
) -> Search:
    """Rows whose ``field`` holds the words (PostgreSQL full-text search, ``plainto_tsquery``)
    through a GIN index on ``to_tsvector(config, field)``; ``through`` names a reverse
    relation whose rows hold the text (a conversation found by its messages)."""

    def condition(model, term):
        match = SearchVectorExact(
            SearchVector(field, config=config), SearchQuery(term, config=config)
        )
        if through is None:
            return Q(match)
        relation = model._meta.get_field(through)
        rows = relation.related_model._base_manager.filter(
            **{relation.field.name: OuterRef("pk")}
        ).filter(match)
        return Q(Exists(rows))

    return Search(label, r".*\w.*", condition)


def indexed_distinct_values(model, field_name: str, limit: int = 100) -> list:
    """The distinct values of a column, found by skipping through an index whose first
    column it is: one index probe per value (a recursive query), so a column with a few
    values among millions of rows costs a few reads, not a scan."""
    column = model._meta.get_field(field_name).column
    query = sql.SQL("""
        WITH RECURSIVE v(value) AS (
            (SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1 LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > v.value ORDER BY 1 LIMIT 1)
              FROM v WHERE v.value IS NOT NULL
        )
        SELECT value FROM v WHERE value IS NOT NULL LIMIT %s""").format(
        column=sql.Identifier(column), table=sql.Identifier(model._meta.db_table)
    )
    connection = connections[router.db_for_read(model)]
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection), [limit])
        return [value for (value,) in cursor.fetchall()]


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by every value of a column, its values found through an index
    (``indexed_distinct_values``) rather than by a DISTINCT over the table. The column needs
    an index that starts with it."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = indexed_distinct_values(model, field_path)
