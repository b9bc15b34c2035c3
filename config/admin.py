"""Admin building blocks shared by every app, and the staff console's site.

The site is django-unfold's (navigation by job, dark mode, its list and form styling):
every model admin registered on it is composed with unfold's ``ModelAdmin`` as well as the
policy's checks, so an app's plain ``admin.ModelAdmin`` looks like the rest of the console.

Every model admin registered on the site follows the staff policy (``accounts.authority``):
each admin action names its policy action (``policy_action``), each custom admin URL too
(``policy_urls``); the action menu shows only what the user's role may use, a forged POST of
another action does nothing, and a custom URL answers 403. An action or URL the policy does
not name is refused to everyone, so a new one cannot slip through unchecked.
"""

import functools
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, router
from django.db.models import Exists, Min, OuterRef, Q
from django.urls import URLPattern
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from psycopg import sql
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import checkbox as unfold_checkbox
from unfold.sites import UnfoldAdminSite
from unfold.templatetags import unfold_list
from unfold.views import ChangeList as UnfoldChangeList

from accounts import authority
from core.api import DomainError
from core.money import MINOR_UNITS_MAX, currency_exponent, format_money, to_minor_units

# Actions and URLs of other projects' admins, named by model label and action / URL name.
THIRD_PARTY_ACTIONS = {
    ("account.EmailAddress", "make_verified"): "accounts.email.verify",
    **{("django_celery_beat.PeriodicTask", name): "system.schedules"
       for name in ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")},
}
# Django's own bulk delete follows the model's delete permission (role_has_perm).
DJANGO_ACTIONS = {"delete_selected"}


def policy_action(action_key: str, **options):
    """An admin action that is the staff policy's ``action_key`` (``options`` go to
    ``admin.action``: description, permissions)."""
    authority.rule(action_key)

    def decorate(func):
        func = admin.action(**options)(func)
        func.policy_action = action_key
        return func
    return decorate


class PolicyAdminMixin:
    """Hides and refuses admin actions and custom URLs the user's role may not use. A model
    admin names its custom URLs' policy actions in ``policy_urls`` (URL name -> action, or a
    tuple of actions that are all needed)."""

    def policy_action_for(self, name: str, func) -> str | None:
        return getattr(func, "policy_action", None) or THIRD_PARTY_ACTIONS.get(
            (self.model._meta.label, name))

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {name: entry for name, entry in actions.items()
                if name in DJANGO_ACTIONS
                or self._may(request, self.policy_action_for(name, entry[0]))}

    @staticmethod
    def _may(request, action_key: str | tuple[str, ...] | None) -> bool:
        """A URL may name several policy actions (all needed), e.g. working a ticket and
        refunding from it."""
        if not action_key:
            return False
        keys = (action_key,) if isinstance(action_key, str) else action_key
        return all(authority.may(request.user, key) for key in keys)

    def custom_url_names(self) -> list[str]:
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(self)}
        return [pattern.name for pattern in super().get_urls()
                if isinstance(pattern, URLPattern) and pattern.name
                and pattern.name not in standard]

    def get_urls(self):
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(self)}
        guarded = []
        for pattern in super().get_urls():
            if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard:
                pattern = URLPattern(pattern.pattern, self._guard(pattern.callback,
                                                                  pattern.name),
                                     pattern.default_args, pattern.name)
            guarded.append(pattern)
        return guarded

    def _guard(self, view, url_name: str):
        action_key = getattr(self, "policy_urls", {}).get(url_name)

        def guarded(request, *args, **kwargs):
            # Someone who may not use the admin at all is sent to its login by the view.
            if self.admin_site.has_permission(request) and not self._may(request, action_key):
                raise PermissionDenied(
                    "Your role may not use this page." if action_key else
                    "This page is not in the staff policy, so no one may use it.")
            return view(request, *args, **kwargs)
        guarded.policy_action = action_key
        guarded.__wrapped__ = view
        return guarded


# Foreign keys to a user that name the customer a row belongs to (not the staff member who
# acted on it: actor, requested_by, assignee, ...).
CUSTOMER_FIELDS = ("user", "customer", "owner", "author", "voter")


@functools.cache
def customer_column(field: str, label: str):
    """A list column showing the user at ``field`` by e-mail, a link to the customer's page
    for a customer (a staff member's e-mail is shown as it is)."""
    from django.urls import NoReverseMatch, reverse

    def shown(obj):
        user = getattr(obj, field, None)
        if user is None:
            return "—"
        if getattr(user, "role", "") == "CUSTOMER":
            try:
                url = reverse("admin:console_customer_overview", args=[user.pk])
            except NoReverseMatch:
                return user.email
            return format_html('<a href="{}" title="Customer page">{}</a>', url, user.email)
        return user.email
    shown.__name__ = f"{field}_customer_page"
    shown.customer_field = field
    return admin.display(description=label, ordering=f"{field}__email")(shown)


class CustomerLinksMixin:
    """Every list that shows a customer (a ``CUSTOMER_FIELDS`` column) links them to their
    customer page, the user read with the rows (one join, no query per row)."""

    def _customer_fields(self) -> dict[str, str]:
        found = {}
        for name in self.list_display:
            if not isinstance(name, str) or name not in CUSTOMER_FIELDS:
                continue
            field = _model_field(self.model, name)
            if field is not None and field.is_relation \
                    and field.related_model is get_user_model():
                found[name] = str(field.verbose_name)
        return found

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        linked = self._customer_fields()
        return [customer_column(column, linked[column])
                if isinstance(column, str) and column in linked else column
                for column in columns]

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if links and hasattr(links[0], "customer_field") and self.list_display_links is not None:
            # The first column is the customer link: the row opens from the next one.
            rest = [column for column in list_display[1:] if isinstance(column, str)]
            return rest[:1] or None
        return links

    def get_list_select_related(self, request):
        selected = super().get_list_select_related(request)
        linked = list(self._customer_fields())
        if selected is True or not linked:
            return selected
        if not selected:
            selected = [name for name in self.list_display if isinstance(name, str)
                        and _is_forward_relation(self.model, name)]
        return list(dict.fromkeys([*selected, *linked]))


def _model_field(model, name: str):
    """The model's field ``name``, or None for a list column that is not a field."""
    from django.core.exceptions import FieldDoesNotExist

    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _is_forward_relation(model, name: str) -> bool:
    field = _model_field(model, name)
    return field is not None and bool(field.many_to_one or field.one_to_one) \
        and not field.auto_created


DONE, REQUESTED, REFUSED = "done", "requested", "refused"


def perform(modeladmin, request, *, action: str, subject, payload: dict, amount: int,
            currency: str = "", done: str) -> str:
    """Carry out a policy action from the admin through ``authority.perform`` and say what
    happened to ``subject``: done, waiting for a second person's approval, or refused (the
    refusal's own message). Returns DONE, REQUESTED or REFUSED."""
    try:
        approval = authority.perform(action=action, payload=payload, amount=amount,
                                     actor=request.user, currency=currency,
                                     reason=payload.get("reason", ""))
    except DomainError as exc:
        notes = " ".join(getattr(exc, "__notes__", []))
        modeladmin.message_user(request, f"{subject}: {exc.message} {notes}".strip(),
                                messages.ERROR)
        return REFUSED
    if approval.status == "pending":  # support.models.ApprovalStatus.PENDING
        shown = authority.describe_amount(action, amount, currency)
        modeladmin.message_user(
            request, f"{subject}: {shown} is above your limit, so approval request "
            f"#{approval.pk} now waits for a second staff member to approve it "
            "(Money › Approval requests).", messages.WARNING)
        return REQUESTED
    modeladmin.message_user(request, f"{subject}: {done}.", messages.SUCCESS)
    return DONE


class MoneyField(forms.DecimalField):
    """An amount a staff member types in major units of ``currency`` ("12.50", "5000" for
    JPY), cleaned to minor units (1250). Refused next to the field: more decimals than the
    currency has, below ``min_minor`` or above ``max_minor`` (default: what a money column
    holds), each said in money (``$0.01``). A form whose currency is known only once it has
    its data (the order chosen, the currency typed) calls ``set_currency`` before cleaning."""

    def __init__(self, *, currency: str = "", min_minor: int | None = 1,
                 max_minor: int | None = MINOR_UNITS_MAX, **kwargs):
        self.currency, self.min_minor, self.max_minor = currency, min_minor, max_minor
        super().__init__(**kwargs)

    def set_currency(self, currency: str) -> None:
        self.currency = currency
        self.widget.attrs.update(self.widget_attrs(self.widget))

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.NumberInput):
            exponent = currency_exponent(self.currency) if self.currency else 2
            attrs.update(step=str(Decimal(1).scaleb(-exponent)), inputmode="decimal")
        return attrs

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            minor = to_minor_units(amount, self.currency)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None
        if self.min_minor is not None and minor < self.min_minor:
            raise ValidationError(f"Enter at least {format_money(self.min_minor, self.currency)}.",
                                  code="min_value")
        if self.max_minor is not None and minor > self.max_minor:
            raise ValidationError(f"Enter at most {format_money(self.max_minor, self.currency)}.",
                                  code="max_value")
        return minor


class StaffSite(UnfoldAdminSite):
    """The admin site: every registered model admin gets the policy's checks and the
    console's look (unfold's ``ModelAdmin``, composed after the app's own class so the
    app's choices win). Its index shows the console's job groups (``console.navigation``)."""

    index_template = "console/index.html"
    index_title = "Staff console"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if issubclass(UnfoldModelAdmin, admin_class):  # Django's own ModelAdmin itself
            admin_class = UnfoldModelAdmin
        bases = [] if issubclass(admin_class, PolicyAdminMixin) else [PolicyAdminMixin]
        if not issubclass(admin_class, CustomerLinksMixin):
            bases.append(CustomerLinksMixin)
        bases.append(admin_class)
        if not issubclass(admin_class, UnfoldModelAdmin):
            bases.append(UnfoldModelAdmin)
        if len(bases) > 1:
            admin_class = type(admin_class.__name__, tuple(bases),
                               {"__module__": admin_class.__module__,
                                "__doc__": admin_class.__doc__})
        return super().register(model_or_iterable, admin_class, **options)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: staff can look, never add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- large tables: lists that neither count nor scan ---------------------------------------------
#
# A ledger, a log or an inbox grows without bound. Django's changelist counts the rows
# (twice: filtered and in total), lists the distinct values of some filters and finds the
# dates of its date hierarchy with a DISTINCT over the table, and searches with
# ``UPPER(column) LIKE '%term%'``, joins included: every one reads the whole table. The pieces
# below keep each page to index reads: ``LargeTableAdmin`` puts them together.


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
        counted = self.object_list[:self.exact_limit + 1].count()
        if counted > self.exact_limit:
            self.estimated = True
            return max(estimate, counted)
        return counted


PERIODS_MAX = 400  # years, months or days one level of a date hierarchy lists at most
PERIOD_KINDS = ("year", "month", "day")


def _period_start(value, kind: str, tzinfo):
    if isinstance(value, datetime):
        local = timezone.localtime(value, tzinfo)
        start = local.replace(month=1 if kind == "year" else local.month,
                              day=1 if kind in ("year", "month") else local.day,
                              hour=0, minute=0, second=0, microsecond=0)
        return timezone.make_aware(start.replace(tzinfo=None), tzinfo)
    return value.replace(month=1 if kind == "year" else value.month,
                         day=1 if kind in ("year", "month") else value.day)


def _next_period(start, kind: str, tzinfo):
    naive = start.replace(tzinfo=None) if isinstance(start, datetime) else start
    if kind == "year":
        after = naive.replace(year=naive.year + 1)
    elif kind == "month":
        after = naive.replace(year=naive.year + naive.month // 12,
                              month=naive.month % 12 + 1)
    else:
        after = date.fromordinal(naive.toordinal() + 1)
        if isinstance(naive, datetime):
            after = naive.replace(year=after.year, month=after.month, day=after.day)
    return timezone.make_aware(after, tzinfo) if isinstance(after, datetime) else after


class IndexedPeriodsMixin:
    """``dates()`` and ``datetimes()`` that find each period (year, month, day) with one
    ``MIN()`` from the start of the next one, which an index on the field answers in a few
    reads, instead of Django's ``SELECT DISTINCT date_trunc(...)`` over every row. What the
    admin's date hierarchy asks for; the queryset's filters apply to every probe."""

    def dates(self, field_name, kind, order="ASC"):
        if kind not in PERIOD_KINDS:
            return super().dates(field_name, kind, order)
        return self._periods(field_name, kind, order, None)

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in PERIOD_KINDS:
            return super().datetimes(field_name, kind, order, tzinfo)
        return self._periods(field_name, kind, order,
                             tzinfo or timezone.get_current_timezone())

    def _periods(self, field_name, kind, order, tzinfo) -> list:
        base, found, after = self.order_by(), [], None
        while len(found) < PERIODS_MAX:
            probe = base if after is None else base.filter(**{f"{field_name}__gte": after})
            first = probe.aggregate(first=Min(field_name))["first"]
            if first is None:
                break
            start = _period_start(first, kind, tzinfo)
            found.append(start)
            after = _next_period(start, kind, tzinfo)
        return found if order == "ASC" else found[::-1]


@functools.cache
def _with_indexed_periods(queryset_class: type) -> type:
    return type(f"IndexedPeriods{queryset_class.__name__}",
                (IndexedPeriodsMixin, queryset_class), {})


def with_indexed_periods(queryset):
    """``queryset`` whose ``dates()`` and ``datetimes()`` probe an index (IndexedPeriodsMixin)."""
    clone = queryset.all()
    clone.__class__ = _with_indexed_periods(type(queryset))
    return clone


class LargeTableChangeList(UnfoldChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        return with_indexed_periods(super().get_queryset(request, exclude_parameters))


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


def by_exact(field: str, *, label: str, fits: str = r"\S+",
             normalize: Callable[[str], str] = str) -> Search:
    """The term is the field's whole value (a unique or indexed column)."""
    return Search(label, fits, lambda model, term: Q(**{field: normalize(term)}))


def by_prefix(field: str, *, label: str, fits: str = r"\S+",
              normalize: Callable[[str], str] = str) -> Search:
    """The field's value starts with the term: ``LIKE 'term%'``, which a btree index on the
    column answers (Django's ``varchar_pattern_ops`` index of a unique or indexed CharField,
    or any btree under the C collation). Case-sensitive: ``normalize`` puts the term in the
    case the column is stored in."""
    return Search(label, fits, lambda model, term: Q(**{f"{field}__startswith":
                                                         normalize(term)}))


USERS_MATCHED_MAX = 50  # users an e-mail search looks at; a longer prefix narrows it


def user_ids_by_email(term: str) -> list[int]:
    """Users (soft-deleted ones too) whose e-mail starts with ``term``: e-mails are stored
    lower-case, so this is ``email LIKE 'term%'`` on the e-mail's index."""
    users = get_user_model()._base_manager
    return list(users.filter(email__startswith=term.strip().lower()).order_by("email")
                .values_list("pk", flat=True)[:USERS_MATCHED_MAX])


def by_user_email(field: str = "user", *, label: str = "e-mail (or its beginning)") -> Search:
    """Rows of the users whose e-mail starts with the term, through ``field`` (a path to a
    user foreign key). The users are found first, on the users' table, so the large table is
    read through its index on ``field``, never joined and scanned."""
    return Search(label, r"[^\s]+",
                  lambda model, term: Q(**{f"{field}__in": user_ids_by_email(term)}))


def by_related(field: str, lookup: str, *, label: str, fits: str,
               normalize: Callable[[str], str] = str, limit: int = 50) -> Search:
    """Rows pointing (through the foreign key ``field``) at the rows whose ``lookup`` matches
    the term, found first on their own (small, indexed) table."""
    def condition(model, term):
        related = model._meta.get_field(field).related_model._base_manager
        ids = list(related.filter(**{lookup: normalize(term)}).order_by("pk")
                   .values_list("pk", flat=True)[:limit])
        return Q(**{f"{field}__in": ids})
    return Search(label, fits, condition)


def by_full_text(field: str, *, label: str = "words", config: str = "english",
                 through: str | None = None) -> Search:
    """Rows whose ``field`` holds the words (PostgreSQL full-text search, ``plainto_tsquery``)
    through a GIN index on ``to_tsvector(config, field)``; ``through`` names a reverse
    relation whose rows hold the text (a conversation found by its messages)."""
    def condition(model, term):
        match = SearchVectorExact(SearchVector(field, config=config),
                                  SearchQuery(term, config=config))
        if through is None:
            return Q(match)
        relation = model._meta.get_field(through)
        rows = relation.related_model._base_manager.filter(
            **{relation.field.name: OuterRef("pk")}).filter(match)
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
        column=sql.Identifier(column), table=sql.Identifier(model._meta.db_table))
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


def _headers_once_per_list(original):
    """unfold's ``items_for_result`` rebuilds every column header for every row (a list of 50
    rows and 9 columns builds 450 headers, about a third of its rendering). The headers of one
    changelist are the same for all its rows: build them once per changelist."""

    @functools.wraps(original)
    def headers(cl):
        cached = cl.__dict__.get("_console_headers")
        if cached is None:
            cached = cl.__dict__["_console_headers"] = list(original(cl))
        yield from cached

    return headers


unfold_list.result_headers = _headers_once_per_list(unfold_list.result_headers)

_PK_MARK = "__row_pk__"


@functools.cache
def _row_checkbox() -> str:
    return str(unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PK_MARK))


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
            _row_checkbox().replace(_PK_MARK, escape(str(obj.pk))))

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
        conditions = [s.condition(queryset.model, term) for s in self.search_by
                      if s.matches(term)]
        if not conditions:
            return queryset.none(), False
        return queryset.filter(functools.reduce(operator.or_, conditions)), False
