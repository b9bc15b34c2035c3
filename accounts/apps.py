from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from accounts import config_keys, data_export, schema, seed_steps, signals  # noqa: F401, PLC0415 - models load after apps.py
        from accounts.demo import seed_users  # noqa: PLC0415 - models load after apps.py

        # The demo users come first: every other app's demo data belongs to them.
        seed_steps.register("accounts", seed_users, order=0)
