"""List columns that name a customer link them to their customer page."""

import functools
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

# Foreign keys to a user that name the customer a row belongs to (not the staff member who
# acted on it: actor, requested_by, assignee, ...).
if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object

CUSTOMER_FIELDS = ("user", "customer", "owner", "author", "voter")


def customer_page_url(user_id) -> str:
    """The staff console's page of the customer ``user_id`` (everything about them)."""
    return reverse("admin:console_customer_overview", args=[user_id])


@functools.cache
def customer_column(field: str, label: str):
    """A list column showing the user at ``field`` by e-mail, a link to the customer's page
    for a customer (a staff member's e-mail is shown as it is)."""

    def shown(obj):
        user = getattr(obj, field, None)
        if user is None:
            return "—"
        if getattr(user, "role", "") == "CUSTOMER":
            try:
                url = customer_page_url(user.pk)
            except NoReverseMatch:
                return user.email
            return format_html('<a href="{}" title="Customer page">{}</a>', url, user.email)
        return user.email

    shown.__name__ = f"{field}_customer_page"
    shown.customer_field = field  # type: ignore[attr-defined]  # marks the column, as admin.display does
    return admin.display(description=label, ordering=f"{field}__email")(shown)


class CustomerLinksMixin(_AdminBase):
    """Every list that shows a customer (a ``CUSTOMER_FIELDS`` column) links them to their
    customer page, the user read with the rows (one join, no query per row)."""

    def _customer_fields(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in self.list_display:
            if not isinstance(name, str) or name not in CUSTOMER_FIELDS:
                continue
            field = _model_field(self.model, name)
            if field is not None and field.is_relation and field.related_model is get_user_model():
                found[name] = str(field.verbose_name)
        return found

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        linked = self._customer_fields()
        return [
            customer_column(column, linked[column])
            if isinstance(column, str) and column in linked
            else column
            for column in columns
        ]

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
            selected = [
                name
                for name in self.list_display
                if isinstance(name, str) and _is_forward_relation(self.model, name)
            ]
        return list(dict.fromkeys([*selected, *linked]))


def _model_field(model, name: str):
    """The model's field ``name``, or None for a list column that is not a field."""
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _is_forward_relation(model, name: str) -> bool:
    field = _model_field(model, name)
    return (
        field is not None and bool(field.many_to_one or field.one_to_one) and not field.auto_created
    )
