"""Human names for rows the audit log and other lists point at by type and id.

``billing.Invoice 6`` reads "Invoice INV-2026-00006"; ``accounts.User 12`` the user's e-mail.
Names are found in one query per type for a whole page of rows, each row by primary key.
"""

from collections import defaultdict

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

# The field that names a row better than its __str__, per model label.
NAMING_FIELDS = {
    "billing.Invoice": "number",
    "billing.Order": "number",
    "support.Ticket": "number",
    "accounts.User": "email",
}


def name_of(obj) -> str:
    """``Invoice INV-2026-00006``: the model's verbose name and the row's own name."""
    label = obj._meta.label
    field = NAMING_FIELDS.get(label)
    own = getattr(obj, field, None) if field else None
    if label == "accounts.User":
        return own or f"user {obj.pk}"
    return f"{capfirst(obj._meta.verbose_name)} {own or obj}"


def _admin_url(obj) -> str:
    opts = obj._meta
    if opts.label == "accounts.User":
        name, args = "admin:console_customer_overview", [obj.pk]
    else:
        name, args = f"admin:{opts.app_label}_{opts.model_name}_change", [obj.pk]
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def describe_resources(rows) -> dict[tuple[str, str], tuple[str, str]]:
    """(resource_type, resource_id) of each row -> (human name, admin link), for rows with
    ``resource_type`` (a model label) and ``resource_id`` (its primary key). A type that is
    not a model, or a row since deleted, is left out (shown as it was recorded)."""
    wanted = defaultdict(set)
    for row in rows:
        if row.resource_type and str(row.resource_id).isdigit():
            wanted[row.resource_type].add(int(row.resource_id))
    names = {}
    for resource_type, ids in wanted.items():
        try:
            model = apps.get_model(resource_type)
        except (LookupError, ValueError):
            continue
        queryset = model._base_manager.filter(pk__in=ids)
        if resource_type == "billing.Subscription":
            queryset = queryset.select_related("plan", "user")
        for obj in queryset:
            names[(resource_type, str(obj.pk))] = (name_of(obj), _admin_url(obj))
    return names
