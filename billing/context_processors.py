"""Template context for every page: the past-due banner (register in TEMPLATES)."""

from django.urls import reverse

from billing.selectors import past_due_subscription


def past_due(request):
    """``billing_past_due``: the customer's past-due/unpaid subscription or None, and
    ``billing_fix_payment_url``: where they fix it. One query for signed-in users only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    subscription = past_due_subscription(user=user)
    if subscription is None:
        return {}
    return {
        "billing_past_due": subscription,
        "billing_fix_payment_url": reverse("billing:subscription"),
    }
