from datetime import date, timedelta

from django import forms

from analytics.metrics import families
from analytics.selectors import MAX_RANGE_DAYS

DEFAULT_DAYS = 90


class RangeForm(forms.Form):
    """The dashboard's date range and currency. Both dates inclusive, at most 366 days."""

    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    currency = forms.ChoiceField(label="Currency", required=False, choices=())

    def __init__(self, *args, currencies: list[str], latest: date | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.latest = latest or date.today()
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)  # declared above
        currency.choices = [(c, c.upper()) for c in currencies] or [("", "—")]
        self.currencies = currencies
        self.initial = {**self.defaults(), **self.initial}

    def clean(self):
        data = super().clean()
        end = data.get("end") or self.latest
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise forms.ValidationError(
                "'To' must be on or after 'From'.", code="invalid_date_range"
            )
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(
                f"Choose a range of at most {MAX_RANGE_DAYS} days.", code="range_too_long"
            )
        data["start"], data["end"] = start, end
        data["currency"] = data.get("currency") or (self.currencies[0] if self.currencies else "")
        return data

    def defaults(self) -> dict:
        end = self.latest
        return {
            "start": end - timedelta(days=DEFAULT_DAYS - 1),
            "end": end,
            "currency": self.currencies[0] if self.currencies else "",
        }


class ExportForm(forms.Form):
    metric = forms.ChoiceField(choices=())
    start = forms.DateField()
    end = forms.DateField()
    dimension = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [
            (m.key, f"{m.label} ({f.title})") for f in families() for m in f.metrics
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError("'To' must be on or after 'From'.")
        if start and end and (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Export at most {MAX_RANGE_DAYS} days at a time.")
        return data
