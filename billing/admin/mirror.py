"""The "Stripe mirror" group of the staff console: dj-stripe's copy of the Stripe objects the
business touches, read-only (what Stripe sent, for checking our records against it).

dj-stripe's own admin pages are unregistered (billing.admin.stripe): they would duplicate ours and
offer actions that call Stripe outside the staff policy. Only these views remain.
"""

import json

from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html

from backoffice.readonly import ReadOnlyAdmin
from billing.stripe.mirror import MIRRORED

GROUP = "Stripe mirror"

# Columns worth a glance per model, besides the Stripe id and dates.
COLUMNS = {
    "Customer": ["email", "name"],
    "Product": ["name", "active"],
    "Price": ["product", "unit_amount", "currency", "active"],
    "Subscription": ["customer", "status"],
    "Invoice": ["customer", "status", "total", "amount_paid"],
    "PaymentIntent": ["customer", "status", "amount", "currency"],
    "Charge": ["customer", "status", "amount", "amount_refunded", "disputed"],
    "Refund": ["charge", "status", "amount", "currency"],
    "Dispute": ["charge", "status", "amount", "reason"],
    "PaymentMethod": ["customer", "type"],
}


class MirrorAdmin(ReadOnlyAdmin):
    """One mirrored Stripe object type: list, search by Stripe id, the raw object."""

    search_fields = ["=id"]
    ordering = ["-created"]
    list_per_page = 50
    show_full_result_count = False
    actions = None

    def get_fields(self, request, obj=None):
        return ["id", "livemode", "created", "djstripe_updated", "raw_object"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Stripe's object (as received)")
    def raw_object(self, obj):
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>',
            json.dumps(obj.stripe_data, indent=2, sort_keys=True),
        )


def register(site) -> None:
    """Register the mirror's read-only pages under one "Stripe mirror" group."""
    apps.get_app_config("djstripe").verbose_name = GROUP
    for name in MIRRORED.values():
        model = apps.get_model("djstripe", name)
        columns = [c for c in COLUMNS.get(name, []) if _has_field(model, c)]
        admin_class = type(
            f"Mirror{name}Admin",
            (MirrorAdmin,),
            {
                "__module__": __name__,
                "list_display": ["id", *columns, "livemode", "created"],
                "list_select_related": [
                    c for c in columns if getattr(model._meta.get_field(c), "is_relation", False)
                ],
            },
        )
        site.register(model, admin_class)


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist: dj-stripe's models differ in fields
        return False
    return True
