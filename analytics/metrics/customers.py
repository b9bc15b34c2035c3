"""Customer sign-ups."""

from decimal import Decimal

from accounts.models import Role, User
from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds, fetch
from analytics.metrics.registry import register

NEW_CUSTOMERS_DEFINITION = """
Users with the CUSTOMER role whose account was created during the day (UTC), including
accounts deleted since: they still joined that day. Staff accounts are not customers.
"""


def compute_new_customers(day) -> list[Row]:
    start, end = day_bounds(day)
    (count,) = fetch(
        """
        SELECT COUNT(*) FROM {users}
        WHERE created_at >= %(start)s AND created_at < %(end)s AND role = %(role)s
    """,
        {"start": start, "end": end, "role": Role.CUSTOMER},
        users=User,
    )[0]
    return [Row("new_customers", Decimal(count))]


NEW_CUSTOMERS = register(
    MetricFamily(
        key="customers",
        title="New customers",
        version=1,
        definition=NEW_CUSTOMERS_DEFINITION,
        metrics=(Metric("new_customers", "New customers", Unit.COUNT),),
        compute=compute_new_customers,
    )
)
