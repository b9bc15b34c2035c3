from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with the staff console's site (every model admin follows the policy)."""

    default_site = "config.admin.StaffSite"

    def ready(self):
        super().ready()
        # The config package has no app of its own; its system checks register with the admin's.
        # The task outbox's page (core.outbox has no admin module of its own).
        from config import (  # noqa: PLC0415 - models load after apps.py
            checks,  # noqa: F401
            outbox_admin,  # noqa: F401
        )


class ProjectConfig(AppConfig):
    """The project itself, as an app: its project-wide management commands (seed_demo,
    run_all, setup_periodic_tasks, and migrate/flush/grant_app_role, which run as the
    database's owner, core.dbroles). Listed last: it reads what every app registered."""

    name = "config"
    label = "config"
    verbose_name = "Project"
