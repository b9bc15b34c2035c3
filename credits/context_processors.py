from core.system_config import get_config
from credits.selectors import balance_of


def low_balance(request):
    """``credits_low_balance``: the balance when it is below the threshold, for the banner."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    balance = balance_of(user=user)
    threshold = get_config("low_balance_threshold")
    return {
        "credits_low_balance": balance < threshold,
        "credits_balance": balance,
        "credits_low_balance_threshold": threshold,
    }
