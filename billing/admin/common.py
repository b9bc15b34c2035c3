"""What the billing pages share: money shown as people read it, rows that only services
write, and how staff type an order's or an invoice's number."""

import functools
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages

from backoffice.readonly import ReadOnlyInline
from backoffice.search import Search, by_prefix
from billing import models
from core.api import DomainError
from core.money import format_money
from core.system_config import get_config

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object

# --- money as people read it -----------------------------------------------------------------


def currency_of(obj, path: str = "currency") -> str:
    """The currency at ``path`` ("currency", "order.currency", "price.currency") of ``obj``;
    the default currency when there is none (a percentage discount, a subscription without
    a price)."""
    value = obj
    for name in path.split("."):
        value = getattr(value, name, None)
        if value is None:
            break
    return value or get_config("default_currency")


@functools.cache
def money_column(field: str, currency: str = "currency", label: str = ""):
    """A list or detail column showing the model field ``field`` (minor units) in major units
    with the row's currency (at ``currency``, see ``currency_of``). One function per
    arguments, so the admin recognises it as the same read-only field on every call."""

    def shown(obj):
        value = getattr(obj, field)
        return None if value is None else format_money(value, currency_of(obj, currency))

    shown.__name__ = f"{field}_shown"
    return admin.display(description=label or field.replace("_", " ").capitalize(), ordering=field)(
        shown
    )


class MoneyAdminMixin(_AdminBase):
    """Shows the model's money fields (``money_fields``, minor units) in major units with
    their currency (at ``money_currency``): a read-only money field is replaced by its
    ``money_column`` on the detail page, and so is every money field of a view-only page.
    A money field the admin's form declares (typed in major units, ``MoneyField``) stays
    editable for those who may change the row."""

    money_fields: tuple[str, ...] = ()
    money_currency = "currency"

    def _shown(self, name):
        return money_column(name, self.money_currency)

    def _typed(self, request, obj) -> set[str]:
        if not self.has_change_permission(request, obj):
            return set()
        return {name for name in self.money_fields if name in self.form.declared_fields}

    def get_exclude(self, request, obj=None):
        return [
            *(super().get_exclude(request, obj) or ()),
            *(name for name in self.money_fields if name not in self.form.declared_fields),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.with_money(request, obj, super().get_readonly_fields(request, obj))

    def with_money(self, request, obj, readonly) -> list:
        """``readonly`` with each money field shown as money (for an admin that lists its
        read-only fields itself)."""
        typed = self._typed(request, obj)
        fields = [self._shown(name) if name in self.money_fields else name for name in readonly]
        return fields + [
            self._shown(name)
            for name in self.money_fields
            if name not in typed and self._shown(name) not in fields
        ]

    def get_fields(self, request, obj=None):
        typed = self._typed(request, obj)
        return [
            name
            for name in super().get_fields(request, obj)
            if not (isinstance(name, str) and name in self.money_fields and name not in typed)
        ]


class AllReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class RecordAdmin(MoneyAdminMixin, AllReadOnlyAdmin):
    """Rows written by the services: every field read-only, money in major units."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# How staff type what they look for; each goes to the index that answers it.
ORDER_NUMBER = r"(?i)ord-[\d-]*"
INVOICE_NUMBER = r"(?i)inv-[\d-]*"


def by_order_number(field: str = "number") -> Search:
    return by_prefix(
        field, label="order number (or its beginning)", fits=ORDER_NUMBER, normalize=str.upper
    )


def by_invoice_number(field: str = "number") -> Search:
    return by_prefix(
        field, label="invoice number (or its beginning)", fits=INVOICE_NUMBER, normalize=str.upper
    )


class RefundInline(ReadOnlyInline):
    model = models.Refund
    fields = (
        money_column("amount"),
        "reason",
        "status",
        "stripe_refund_id",
        "notes",
        "requested_by",
        "created_at",
    )
    readonly_fields = fields


def run_each(modeladmin, request, queryset, fn, label):
    """Call a service per row; report each outcome (refusals are messages, not 500s)."""
    for obj in queryset:
        try:
            fn(obj)
            modeladmin.message_user(request, f"{obj}: {label}.", messages.SUCCESS)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
