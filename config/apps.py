from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with the staff console's site (every model admin follows the policy)."""

    default_site = "config.admin.StaffSite"
