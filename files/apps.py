from django.apps import AppConfig


class FilesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "files"
    verbose_name = "Customer files"

    def ready(self):
        from accounts import deletion
        from files.services import deletion_preview, settle_for_account_deletion

        deletion.register("files", preview=deletion_preview, settle=settle_for_account_deletion)
