"""Large tables: lists that neither count nor scan.

A ledger, a log or an inbox grows without bound. Django's changelist counts the rows
(twice: filtered and in total), lists the distinct values of some filters and finds the
dates of its date hierarchy with a DISTINCT over the table, and searches with
``UPPER(column) LIKE '%term%'``, joins included: every one reads the whole table. The pieces
below keep each page to index reads: ``LargeTableAdmin`` puts them together.
"""

import functools
import json
import operator
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.views import ChangeList as UnfoldChangeList

from backoffice.periods import with_indexed_periods
from backoffice.rendering import PK_MARK, row_checkbox
from backoffice.search import Search


def estimated_rows(queryset) -> int:
    """How many rows PostgreSQL's planner expects ``queryset`` to return (EXPLAIN: from the
    table's statistics, pg_class.reltuples scaled to its current size, and the filters'
    selectivity). No row is read."""
    plan = json.loads(queryset.values("pk").order_by().explain(format="json"))
    plan = plan[0] if isinstance(plan, list) else plan
    return int(plan["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Pages of a table too large to count. The total is the planner's estimate of the list's
    query; only when that says at most ``exact_limit`` rows are they counted, and then no more
    than ``exact_limit`` + 1 of them are read (an estimate can be wrong). ``estimated`` says
    which the total is: the admin's pagination then reads "about"."""

    object_list: QuerySet[Any]  # the admin's list: always a queryset
    exact_limit = 10_000
    estimated = False
    # The theme's list footer for this paginator: says "about" when the total is estimated.
    template_name = "admin/estimated_pagination.html"

    @cached_property
    def count(self) -> int:
        estimate = estimated_rows(self.object_list)
        if estimate > self.exact_limit:
            self.estimated = True
            return estimate
        counted = self.object_list[: self.exact_limit + 1].count()
        if counted > self.exact_limit:
            self.estimated = True
            return max(estimate, counted)
        return counted


class LargeTableChangeList(UnfoldChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        return with_indexed_periods(super().get_queryset(request, exclude_parameters))


class LargeTableAdmin(admin.ModelAdmin):
    """The changelist of a table that grows without bound, kept to index reads:

    - the total is the planner's estimate past ``EstimatedCountPaginator.exact_limit`` rows,
      the unfiltered total is not counted and filters show no counts (facets);
    - searches are ``search_by``: each kind of term (an e-mail, a number, a Stripe id, words)
      goes to the index that answers it, never ``LIKE '%term%'`` across a join;
    - the date hierarchy finds its years, months and days through the date's index
      (``IndexedPeriodsMixin``).

    Its ``ordering``, ``date_hierarchy`` and date filters must use indexed columns (an index
    that matches the ordering, or starts with the date), and its list filters must not list
    a column's values with DISTINCT (``IndexedValuesFilter``, or fixed choices).
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    search_by: tuple[Search, ...] = ()
    # A page of a long history is read, not scrolled: 50 rows fit a screen or two, and each
    # row is rendered in Python (the cost of a page is its rows, whatever the history).
    list_per_page = 50

    @admin.display(description=UnfoldModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, obj):
        # The console's row checkbox, rendered through the template engine once per process
        # rather than once per row (a third of a long list's rendering time).
        return mark_safe(  # noqa: S308 - the widget's own markup; the key escaped
            row_checkbox().replace(PK_MARK, escape(str(obj.pk)))
        )

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        if self.search_by and not self.search_help_text:
            self.search_help_text = "Search by " + ", ".join(s.label for s in self.search_by)

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList

    def get_search_fields(self, request):
        # What the changelist shows a search box for; the search itself is search_by.
        return [s.label for s in self.search_by]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        conditions = [s.condition(queryset.model, term) for s in self.search_by if s.matches(term)]
        if not conditions:
            return queryset.none(), False
        return queryset.filter(functools.reduce(operator.or_, conditions)), False
