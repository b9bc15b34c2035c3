"""The user's Stripe customer: created once, on first Stripe checkout."""

from django.db import transaction

from accounts.models import User
from billing import errors
from billing.models import CustomerBillingProfile
from billing.stripe import client as stripe_client


def get_profile(*, user: User) -> CustomerBillingProfile:
    profile, _ = CustomerBillingProfile.objects.get_or_create(
        user=user, defaults={"billing_email": user.email}
    )
    return profile


def ensure_stripe_customer(*, user: User) -> str:
    """Return the user's Stripe customer id, creating the customer at Stripe the first time.

    Never holds a lock during the API call. The idempotency key is per user, so two
    concurrent first checkouts (or a retry after a timeout) get the same Stripe customer back
    from Stripe instead of creating a second one; the conditional UPDATE keeps the first id.
    Raises StripeNotConfigured or PaymentProviderError.
    """
    profile = get_profile(user=user)
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    if not stripe_client.is_configured():
        raise errors.StripeNotConfigured()
    try:
        customer = stripe_client.create_customer(
            email=user.email,
            name=getattr(user, "name", "") or "",
            user_id=user.pk,
            idempotency_key=f"customer-create-user-{user.pk}",
        )
    except stripe_client.stripe.StripeError as exc:
        raise errors.PaymentProviderError() from exc
    with transaction.atomic():
        CustomerBillingProfile.objects.filter(
            pk=profile.pk, stripe_customer_id__isnull=True
        ).update(stripe_customer_id=customer["id"])
    profile.refresh_from_db()
    # Set just above, or by a concurrent first checkout: the update only fills a null.
    assert profile.stripe_customer_id is not None
    return profile.stripe_customer_id
