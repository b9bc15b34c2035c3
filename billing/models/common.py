"""Money and where it is billed: shared by every billing model."""

from django.db import models

CURRENCY_LENGTH = 3


class BillingSource(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual (bank transfer)"
