"""Tax rates per customer country."""

from django.contrib import admin

from backoffice.audited import AuditedAdmin
from billing import models


@admin.register(models.TaxRate)
class TaxRateAdmin(AuditedAdmin):
    """The tax rate per customer country (billing.tax applies it to orders and invoices)."""

    list_display = ["country", "name", "rate", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["country", "name"]
    ordering = ["country"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate a rate instead: invoices were issued with it
