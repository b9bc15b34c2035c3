"""The staff console's own rows: each staff member's preferences, and the entries that put
the customer pages and the accounting exports in the console (no data of their own)."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from accounts.models import User


def validate_timezone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone (e.g. Europe/Paris).")


class StaffPreference(models.Model):
    """How the console shows things to one staff member. No row: the business's defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_preference"
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Dates and times in the console are shown in this zone; empty: the "
        "business's time zone.",
    )

    def __str__(self):
        return f"console preferences of {self.user}"


class Customer(User):
    """A customer as staff look at them: the customer list and the customer page (the
    console's lists keep to users whose role is CUSTOMER)."""

    class Meta:
        proxy = True
        verbose_name = "customer"
        verbose_name_plural = "customers"


class AccountingExport(StaffPreference):
    """Puts "Accounting exports" in the console; its changelist is the export form."""

    class Meta:
        proxy = True
        verbose_name = "accounting export"
        verbose_name_plural = "accounting exports"
