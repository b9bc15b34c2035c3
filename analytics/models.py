"""Daily rollups of the business: one row per (date, metric, dimension).

Rows are only ever produced by ``analytics.rollup.rollup_day``, which replaces a day's rows
for a metric family in one transaction; nothing else writes this table.
"""

from django.conf import settings
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


class ExactNumericField(models.Field):
    """PostgreSQL ``numeric`` without precision or scale: stores a value exactly as computed
    (a monthly amount such as 29000 / 12), so sums of stored values equal sums of the
    computed ones to the last digit. Read as ``Decimal`` by psycopg."""

    description = "Exact number of any precision"

    def db_type(self, connection):
        return "numeric"


class CustomerMRR(models.Model):
    """A customer's monthly recurring revenue in one currency over a span of time: for every
    instant T with ``pays_after < T <= pays_until`` (``pays_until`` NULL: still open), the
    customer's MRR at T is ``mrr``, from ``subscriptions`` paying subscriptions. Instants in
    no row are 0.

    Kept by the database, never by Python: the function ``analytics_customer_mrr_refresh``
    (migration 0002) recomputes a customer's rows from their subscriptions, their plan-change
    timeline and the catalog's prices, and triggers call it whenever one of those changes
    (a subscription inserted, updated in a column MRR reads, or deleted; a PLAN_CHANGED event;
    a price's amount, currency or interval; a plan's monthly price). So every write path,
    the ORM, bulk updates and raw SQL alike, keeps it exact, and the MRR of any day is one
    scan of the rows open at its end instead of a reconstruction of every subscription.
    """

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    currency = models.CharField(max_length=3)
    mrr = ExactNumericField()
    subscriptions = models.PositiveIntegerField()
    pays_after = models.DateTimeField()
    pays_until = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "customer MRR span"
        indexes = [
            # A day's MRR reads the spans open at its end (still open, or closed at or after
            # it), so its cost follows the live customers, not the history.
            models.Index(fields=["pays_until"], name="analytics_customer_mrr_until"),
        ]

    def __str__(self):
        until = self.pays_until or "open"
        return f"{self.customer_id} {self.currency} {self.mrr} ({self.pays_after} – {until})"
