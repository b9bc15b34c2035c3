"""Form fields of the staff console's pages."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from core.money import MINOR_UNITS_MAX, currency_exponent, format_money, to_minor_units


class MoneyField(forms.DecimalField):
    """An amount a staff member types in major units of ``currency`` ("12.50", "5000" for
    JPY), cleaned to minor units (1250). Refused next to the field: more decimals than the
    currency has, below ``min_minor`` or above ``max_minor`` (default: what a money column
    holds), each said in money (``$0.01``). A form whose currency is known only once it has
    its data (the order chosen, the currency typed) calls ``set_currency`` before cleaning."""

    def __init__(
        self,
        *,
        currency: str = "",
        min_minor: int | None = 1,
        max_minor: int | None = MINOR_UNITS_MAX,
        **kwargs,
    ):
        self.currency, self.min_minor, self.max_minor = currency, min_minor, max_minor
        super().__init__(**kwargs)

    def set_currency(self, currency: str) -> None:
        self.currency = currency
        self.widget.attrs.update(self.widget_attrs(self.widget))

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.NumberInput):
            exponent = currency_exponent(self.currency) if self.currency else 2
            attrs.update(step=str(Decimal(1).scaleb(-exponent)), inputmode="decimal")
        return attrs

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            minor = to_minor_units(amount, self.currency)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None
        if self.min_minor is not None and minor < self.min_minor:
            raise ValidationError(
                f"Enter at least {format_money(self.min_minor, self.currency)}.", code="min_value"
            )
        if self.max_minor is not None and minor > self.max_minor:
            raise ValidationError(
                f"Enter at most {format_money(self.max_minor, self.currency)}.", code="max_value"
            )
        return minor
