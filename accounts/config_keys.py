"""Run-time settings of the staff policy (accounts.authority)."""

from core.system_config import define

# The staff policy's limits (accounts.authority): above these, a second staff member approves.
define(
    "finance_approval_threshold",
    type=int,
    default=500_000,
    min_value=0,
    description="Refunds, payments marked received and free periods that FINANCE staff "
    "may handle alone, up to this amount in minor units of the money's currency (500000 "
    "= $5,000.00); above it a second staff member whose limit covers it approves.",
)
define(
    "finance_credit_approval_threshold",
    type=int,
    default=100_000,
    min_value=0,
    description="Credit adjustments FINANCE staff may make alone, up to this many credits; "
    "above it a second staff member approves.",
)
