from django.apps import AppConfig


class FilesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "files"
    verbose_name = "Customer files"

    def ready(self):
        from accounts import deletion  # noqa: PLC0415 - models load after apps.py
        from files.services import deletion_preview, settle_for_account_deletion  # noqa: PLC0415 - models load after apps.py

        deletion.register("files", preview=deletion_preview, settle=settle_for_account_deletion)
