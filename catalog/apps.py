from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self):
        from accounts import data_export, seed_steps  # noqa: PLC0415 - models load after apps.py
        from catalog.data_export import reviews_section  # noqa: PLC0415 - models load after apps.py

        data_export.register("reviews", reviews_section)
        seed_steps.register("catalog", seed_steps.command_step("seed_catalog"), order=20)
