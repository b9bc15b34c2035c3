"""Money in and out: gross revenue, refunds and net revenue per currency."""

from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, dec, fetch
from analytics.metrics.registry import register
from billing.models import Payment, Refund

REVENUE_DEFINITION = """
Per currency, in minor units. GROSS REVENUE = the sum of SUCCEEDED payments recorded during
the day (UTC; a payment's created_at, which billing writes when the money arrives). REFUNDS =
the sum of SUCCEEDED refunds processed during the day (processed_at). NET REVENUE = gross −
refunds. Amounts include tax, as charged. A refund is counted on the day it went through,
not on the day of the payment it returns.
"""


def compute_revenue(day) -> list[Row]:
    start, end = day_bounds(day)
    template = """
        SELECT currency, SUM(gross), SUM(refunds), SUM(payments), SUM(refund_count)
        FROM (
            SELECT currency, amount AS gross, 0 AS refunds, 1 AS payments, 0 AS refund_count
            FROM {payments}
            WHERE created_at >= %(start)s AND created_at < %(end)s AND status = 'SUCCEEDED'
            UNION ALL
            SELECT currency, 0, amount, 0, 1
            FROM {refunds}
            WHERE processed_at >= %(start)s AND processed_at < %(end)s
              AND status = 'SUCCEEDED'
        ) money
        GROUP BY currency ORDER BY currency
    """
    rows = []
    for currency, gross, refunds, payments, refund_count in fetch(
        template, {"start": start, "end": end}, payments=Payment, refunds=Refund
    ):
        rows += [
            Row("gross_revenue", dec(gross, "1"), currency, {"payments": payments}),
            Row("refunds", dec(refunds, "1"), currency, {"refunds": refund_count}),
            Row("net_revenue", dec(gross - refunds, "1"), currency),
        ]
    return rows


REVENUE = register(
    MetricFamily(
        key="revenue",
        title="Revenue",
        version=1,
        definition=REVENUE_DEFINITION,
        metrics=(
            Metric("gross_revenue", "Gross revenue", Unit.MONEY, "currency"),
            Metric("refunds", "Refunds", Unit.MONEY, "currency"),
            Metric("net_revenue", "Net revenue", Unit.MONEY, "currency"),
        ),
        compute=compute_revenue,
    )
)
