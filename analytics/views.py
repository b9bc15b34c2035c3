"""The staff dashboard, its MRR drill-down and the CSV export (mounted by analytics.admin)."""

import csv
import json

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts import authority
from analytics import selectors
from analytics.dashboard import CHARTS, chart_payload, kpi_tiles
from analytics.errors import InvalidDateRange
from analytics.forms import ExportForm, RangeForm
from analytics.metrics import families
from billing.models import Subscription
from core import audit
from core.models import AuditAction
from core.money import currency_exponent

DASHBOARD_URL = "admin:app_list"


def dashboard_url() -> str:
    return reverse(DASHBOARD_URL, kwargs={"app_label": "analytics"})


def dashboard_context(request) -> dict:
    """Everything the dashboard template shows, from the request's range and currency."""
    latest = selectors.latest_day()
    form = RangeForm(request.GET or None, currencies=selectors.currencies(), latest=latest)
    params = form.cleaned_data if form.is_bound and form.is_valid() else form.defaults()
    start, end, currency = params["start"], params["end"], params["currency"]
    charts = [(chart, chart_payload(chart, start, end, currency)) for chart in CHARTS]
    payload = {
        "charts": [data for _, data in charts],
        "currency": currency,
        "drilldown": reverse("admin:analytics_dashboard_drilldown"),
        "exponent": currency_exponent(currency) if currency else 2,
    }
    return {
        "form": form,
        "start": start,
        "end": end,
        "currency": currency,
        "latest": latest,
        "has_data": latest is not None,
        "tiles": kpi_tiles(latest, currency),
        "charts": [
            {"spec": chart, "data": data, "families": chart.families()} for chart, data in charts
        ],
        "payload": payload,
        "export_form": ExportForm(initial={"start": start, "end": end}),
        "families": families(),
    }


def drilldown(request):
    """The subscriptions behind one day's MRR in one currency (?day=YYYY-MM-DD&currency=)."""
    try:
        day = selectors.parse_day(request.GET.get("day"), "day")
    except InvalidDateRange as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(dashboard_url())
    currency = (request.GET.get("currency") or "").lower()[:3]
    rows = selectors.mrr_subscriptions(day, currency)
    stored = selectors.metric_rows("mrr", day, day, currency).first()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    total = sum((row["monthly"] for row in rows), start=0)

    return TemplateResponse(
        request,
        "analytics/drilldown.html",
        {
            **admin.site.each_context(request),  # the console's sidebar, header and styles
            "title": f"MRR on {day:%d %B %Y} ({currency.upper() or '—'})",
            "day": day,
            "currency": currency,
            "page": page,
            "count": len(rows),
            "total": total,
            "stored": stored,
            "dashboard_url": dashboard_url(),
            "subscription_admin": _subscription_admin_available(),
        },
    )


def _subscription_admin_available() -> bool:
    return admin.site.is_registered(Subscription)


class _Echo:
    def write(self, value):
        return value


def export_csv(request):
    """One metric's rows over a range as CSV (?metric=&start=&end=&dimension=)."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"CSV export: {error}")
        return HttpResponseRedirect(dashboard_url())
    data = form.cleaned_data
    dimension = data["dimension"] or None  # empty: every dimension's rows
    # Revenue leaving the product is an audited staff action (the policy's export_revenue).
    authority.require(request.user, "analytics.export_revenue")
    audit.record(
        actor=request.user,
        action=AuditAction.EXPORT,
        resource_type="analytics.DailyMetric",
        resource_id=data["metric"],
        new={
            "start": data["start"].isoformat(),
            "end": data["end"].isoformat(),
            "dimension": dimension or "",
        },
    )
    rows = selectors.metric_rows(data["metric"], data["start"], data["end"], dimension)
    writer = csv.writer(_Echo())
    header = [
        "date",
        "metric",
        "dimension",
        "value",
        "definition_version",
        "computed_at",
        "metadata",
    ]
    lines = (
        writer.writerow(
            [
                r.date.isoformat(),
                r.metric,
                r.dimension,
                r.value,
                r.definition_version,
                r.computed_at.isoformat(),
                json.dumps(r.metadata, sort_keys=True),
            ]
        )
        for r in rows.iterator()
    )
    response = StreamingHttpResponse(
        _chain([writer.writerow(header)], lines), content_type="text/csv; charset=utf-8"
    )
    name = f"{data['metric']}_{data['start']:%Y%m%d}_{data['end']:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _chain(*parts):
    for part in parts:
        yield from part


def dashboard_redirect(request):
    """The Dashboard entry on the admin index leads to /admin/analytics/."""
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(dashboard_url() + (f"?{query}" if query else ""))
