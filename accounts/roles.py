"""The roles a user has: three staff roles and the customer. Their authority is in
``accounts.authority`` (services) and ``accounts.permissions`` (the admin's menus)."""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    FINANCE = "FINANCE", "Finance"
    SUPPORT = "SUPPORT", "Support"
    CUSTOMER = "CUSTOMER", "Customer"
