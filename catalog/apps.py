from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self):
        from accounts import data_export
        from catalog.data_export import reviews_section

        data_export.register("reviews", reviews_section)
