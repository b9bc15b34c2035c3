from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The staff console's building blocks (their templates: confirmation pages, the large
    tables' list footer)."""

    name = "backoffice"
    verbose_name = "staff console building blocks"

    def ready(self):
        # unfold's list rendering, with each changelist's headers built once (not per row).
        from backoffice import rendering  # noqa: F401, PLC0415 - patches unfold once the apps are loaded
