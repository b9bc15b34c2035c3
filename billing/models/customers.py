"""Customers' billing profiles and saved payment methods."""

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class CustomerBillingProfile(TimeStampedModel):
    """The user's link to their Stripe customer (created on first Stripe checkout)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="billing_profile"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    djstripe_customer = models.ForeignKey(
        "djstripe.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    billing_email = models.EmailField(blank=True)
    billing_name = models.CharField(max_length=255, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    stripe_updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Billing profile of {self.user}"


class PaymentMethod(TimeStampedModel):
    """A payment method as Stripe describes it: brand and last4, never card numbers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods"
    )
    stripe_payment_method_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, default="card")
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    billing_details = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.brand or self.type} •••• {self.last4}"
