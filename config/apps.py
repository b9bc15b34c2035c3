from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with the staff console's site (every model admin follows the policy)."""

    default_site = "config.admin.StaffSite"

    def ready(self):
        super().ready()
        # The config package has no app of its own; its system checks register with the admin's.
        # The task outbox's page (core.outbox has no admin module of its own).
        from config import (
            checks,  # noqa: F401
            outbox_admin,  # noqa: F401
        )
