"""Forms for the catalog pages: the list's filters and writing a review."""

from django import forms

from catalog.models import Category, ProductType

SORT_CHOICES = [
    ("relevance", "Best match / featured"),
    ("newest", "Newest"),
    ("name", "Name"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("rating", "Best rated"),
]


class CatalogFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "Search products"}),
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label="All categories",
    )
    type = forms.ChoiceField(choices=[("", "All types"), *ProductType.choices], required=False)
    tag = forms.CharField(required=False, max_length=50)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def filters(self) -> dict:
        """Valid values only: a bad value in the address is shown as an error and ignored."""
        data = (
            self.cleaned_data
            if self.is_valid()
            else {name: value for name, value in getattr(self, "cleaned_data", {}).items()}
        )
        return {
            "search": data.get("q") or "",
            "category": data.get("category"),
            "type": data.get("type") or "",
            "tag": data.get("tag") or "",
            "sort": data.get("sort") or "relevance",
        }


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(i, f"{i} star{'s' if i > 1 else ''}") for i in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    title = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        label="Your review",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
