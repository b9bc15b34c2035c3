"""The staff console's own pages: the customer list and each customer's page, the
accounting exports and a staff member's preferences. The accounts models' pages (users and
roles, API keys, sessions, the audit log, settings) are ``console.accounts_admin``: they link
to the customer page and name the audit log's rows through ``console.naming``."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from accounts.models import Role, Status
from backoffice.customers import customer_page_url
from backoffice.readonly import ReadOnlyAdmin
from console import (
    accounts_admin,  # noqa: F401 - registers the accounts models' pages
    exports,
    overview,
)
from console.models import AccountingExport, Customer, StaffPreference
from core import audit
from core.models import AuditAction


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers only (staff accounts are under System › Users and roles); each row opens
    the customer's page."""

    list_display = ["customer", "name", "status", "email_verified", "created_at"]
    list_display_links = None
    list_filter = [StatusFilter, "email_verified"]
    search_fields = ["email", "first_name", "last_name", "display_name"]
    search_help_text = "Search by e-mail or name"
    ordering = ["-created_at"]
    list_per_page = 50
    policy_urls = {"console_customer_overview": "console.customer.view"}

    def get_queryset(self, request):
        # Soft-deleted (anonymised) customers too: staff may follow an old invoice to them.
        return Customer.all_objects.filter(role=Role.CUSTOMER)

    @admin.display(description="customer", ordering="email")
    def customer(self, obj):
        return format_html('<a href="{}">{}</a>', customer_page_url(obj.pk), obj.email)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/overview/",
                wrap(overview.customer_overview(self)),
                name="console_customer_overview",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A customer's row is read on their page, which links to each thing staff change.
        if str(object_id).isdigit():
            return redirect(customer_page_url(object_id))
        return super().change_view(request, object_id, form_url, extra_context)


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = StaffPreference
        fields = ["timezone"]
        labels = {"timezone": "Time zone"}


@admin.register(StaffPreference)
class StaffPreferenceAdmin(ReadOnlyAdmin):
    """One page: the signed-in staff member's own preferences."""

    policy_urls = {"console_preferences": "console.preferences"}

    def has_module_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.preferences_view), name="console_preferences")
        ]

    def preferences_view(self, request):
        preference = StaffPreference.objects.filter(user=request.user).first() or StaffPreference(
            user=request.user
        )
        old = preference.timezone
        form = PreferencesForm(request.POST or None, instance=preference)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                form.save()
                audit.record(
                    actor=request.user,
                    action=AuditAction.UPDATE,
                    resource=preference,
                    old={"timezone": old},
                    new={"timezone": preference.timezone},
                )
            shown = preference.timezone or f"the business's ({settings.TIME_ZONE})"
            messages.success(request, f"Dates in the console are now shown in {shown} time.")
            return redirect("admin:console_preferences")
        return TemplateResponse(
            request,
            "console/preferences.html",
            {
                **self.admin_site.each_context(request),
                "title": "My console settings",
                "form": form,
                "business_timezone": settings.TIME_ZONE,
            },
        )


@admin.register(AccountingExport)
class AccountingExportAdmin(ReadOnlyAdmin):
    """The accounting exports page (its changelist is the export form)."""

    policy_urls = {"console_export": "console.export"}

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_redirect), name="console_accountingexport_changelist"),
            path("export/", wrap(exports.export_view(self)), name="console_export"),
        ]

    def changelist_redirect(self, request):
        return redirect("admin:console_export")
