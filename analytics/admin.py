"""The staff console's analytics: the dashboard at /admin/analytics/ and the raw rollups.

The dashboard is the analytics app index page (the admin renders
``admin/analytics/app_index.html``, which this app provides), so it sits at /admin/analytics/
behind the admin's own login and staff check. The "Dashboard" proxy puts it on the admin
index; its URLs add the MRR drill-down and the CSV export.
"""

from django.contrib import admin
from django.urls import path

from accounts import authority
from analytics import views
from analytics.models import DailyMetric, Dashboard
from backoffice.readonly import ReadOnlyAdmin


def _sees_revenue(request) -> bool:
    return authority.may(request.user, "analytics.view_revenue")


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    policy_urls = {
        "analytics_dashboard_drilldown": "analytics.view_revenue",
        "analytics_dashboard_export": "analytics.export_revenue",
    }

    def has_module_permission(self, request):
        return _sees_revenue(request)

    def has_view_permission(self, request, obj=None):
        return _sees_revenue(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(views.dashboard_redirect), name="analytics_dashboard_changelist"),
            path("mrr/", wrap(views.drilldown), name="analytics_dashboard_drilldown"),
            path("export/", wrap(views.export_csv), name="analytics_dashboard_export"),
        ]


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdmin):
    """Rollups are written by rollup_day only: read-only here."""

    list_display = ["date", "metric", "dimension", "value", "definition_version", "computed_at"]
    list_filter = ["metric", "definition_version"]
    search_fields = ["metric", "dimension"]
    date_hierarchy = "date"
    ordering = ["-date", "metric", "dimension"]
