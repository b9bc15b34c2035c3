from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self):
        from accounts import data_export, seed_steps
        from catalog.data_export import reviews_section

        data_export.register("reviews", reviews_section)
        seed_steps.register("catalog", seed_steps.command_step("seed_catalog"), order=20)
