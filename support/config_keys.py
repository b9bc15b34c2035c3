"""Run-time settings of the support desk (SystemConfig keys)."""

from decimal import Decimal

from core.system_config import define

# SLA targets, in hours, per priority: first staff response and resolution.
SLA_DEFAULTS = {
    "LOW": (48, 168),
    "MEDIUM": (24, 72),
    "HIGH": (8, 24),
    "URGENT": (2, 8),
}
for _priority, (_first, _resolve) in SLA_DEFAULTS.items():
    define(
        f"support_sla_first_response_hours_{_priority.lower()}",
        type=int,
        default=_first,
        min_value=1,
        description=f"Hours within which a {_priority} ticket gets a first "
        "staff response before it is flagged as breaching its SLA.",
    )
    define(
        f"support_sla_resolution_hours_{_priority.lower()}",
        type=int,
        default=_resolve,
        min_value=1,
        description=f"Hours within which a {_priority} ticket should be "
        "resolved before it is flagged as breaching its SLA.",
    )

define(
    "support_reopen_window_days",
    type=int,
    default=14,
    min_value=0,
    description="Days after resolution during which a customer's reply reopens a ticket.",
)
define(
    "support_auto_close_days",
    type=int,
    default=7,
    min_value=1,
    description="Days after resolution at which a resolved ticket is closed automatically.",
)
define(
    "support_bot_min_rank",
    type=Decimal,
    default=Decimal("0.1"),
    min_value=Decimal("0"),
    description="Search rank (0-1: full text, blended with meaning where pgvector is "
    "available) below which the help bot says it does not know.",
)
define(
    "support_approval_threshold",
    type=int,
    default=10_000,
    min_value=0,
    description="Staff actions with an amount above this (minor units or credits) need a "
    "second staff member's approval.",
)
define(
    "support_credit_approval_threshold",
    type=int,
    default=1_000,
    min_value=0,
    description="Credit grants or adjustments made from a ticket above this many credits "
    "need a second staff member's approval.",
)
# Trial extensions are sized in days. Up to this many run at once; a longer extension waits
# for a second staff member, as a large refund or credit grant does. 0 = always a second one.
define(
    "support_trial_approval_threshold_days",
    type=int,
    default=7,
    min_value=0,
    description="Trial extensions made from a ticket longer than this many days need a "
    "second staff member's approval.",
)
