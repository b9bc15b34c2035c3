from django import forms

from files import services


class UploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        allow_empty_file=True,
        help_text=f"Accepted: {services.KINDS}.",
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ",".join(
                    [
                        ".png",
                        ".jpg",
                        ".jpeg",
                        ".gif",
                        ".webp",
                        ".pdf",
                        ".zip",
                        ".docx",
                        ".xlsx",
                        ".txt",
                        ".csv",
                        ".json",
                    ]
                )
            }
        ),
    )
