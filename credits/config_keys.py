from core.system_config import define

define(
    "signup_bonus_credits",
    type=int,
    default=100,
    min_value=0,
    description="Credits granted once to every new user (0 turns the bonus off).",
)
define(
    "low_balance_threshold",
    type=int,
    default=20,
    min_value=0,
    description="Below this many credits a customer sees a banner and gets one e-mail.",
)
