from django.apps import AppConfig


class SocialSigninConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "social_signin"
    verbose_name = "Social sign-in"

    def ready(self):
        from accounts import data_export, deletion  # noqa: PLC0415 - models load after apps.py
        from social_signin import signals  # noqa: F401, PLC0415 - models load after apps.py; audit of linked accounts
        from social_signin.services import (  # noqa: PLC0415 - models load after apps.py
            deletion_preview,
            linked_accounts_section,
            settle_for_account_deletion,
        )

        data_export.register("linked_accounts", linked_accounts_section)

        deletion.register(
            "social_signin", preview=deletion_preview, settle=settle_for_account_deletion
        )
