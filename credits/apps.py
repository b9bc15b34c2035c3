from django.apps import AppConfig


class CreditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credits"

    def ready(self):
        from accounts import data_export
        from credits import config_keys  # noqa: F401
        from credits.data_export import credits_section

        # The balance, the lots and the whole ledger (streamed, however long).
        data_export.register("credits", credits_section)
