from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff console as staff use it: navigation by job, the customer page, accounting
    exports and each staff member's display preferences."""

    name = "console"
    verbose_name = "staff console"
