from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    # The audit log and the run-time settings live here.
    verbose_name = "Audit and settings"

    def ready(self) -> None:
        from core import config_keys  # noqa: F401, PLC0415 - models load after apps.py
