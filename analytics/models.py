"""Daily rollups of the business: one row per (date, metric, dimension).

Rows are only ever produced by ``analytics.rollup.rollup_day``, which replaces a day's rows
for a metric family in one transaction; nothing else writes this table.
"""

from django.db import models
from django.utils import timezone


class DailyMetric(models.Model):
    date = models.DateField()
    metric = models.CharField(max_length=64)
    # A currency, operation key, ... or "" for a total.
    dimension = models.CharField(max_length=64, blank=True, default="")
    value = models.DecimalField(max_digits=24, decimal_places=6)
    metadata = models.JSONField(default=dict, blank=True)
    definition_version = models.PositiveIntegerField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "metric", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "metric", "dimension"], name="analytics_dailymetric_unique_day"
            ),
        ]
        indexes = [
            # Date-range reads of one metric (charts, API, CSV), with or without a dimension.
            models.Index(fields=["metric", "dimension", "date"], name="analytics_metric_dim_date"),
            models.Index(fields=["metric", "date"], name="analytics_metric_date"),
        ]

    def __str__(self):
        dim = f" [{self.dimension}]" if self.dimension else ""
        return f"{self.date} {self.metric}{dim} = {self.value}"


class Dashboard(DailyMetric):
    """No data of its own: puts an "Analytics dashboard" entry on the admin index, whose
    changelist is the dashboard (see ``analytics.admin``)."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
