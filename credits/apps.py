from django.apps import AppConfig


class CreditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credits"

    def ready(self):
        from accounts import data_export, seed_steps, signup_hooks  # noqa: PLC0415 - models load after apps.py
        from credits import config_keys  # noqa: F401, PLC0415 - models load after apps.py
        from credits.data_export import credits_section  # noqa: PLC0415 - models load after apps.py

        # The balance, the lots and the whole ledger (streamed, however long).
        data_export.register("credits", credits_section)

        from credits import executors  # noqa: PLC0415 - models load after apps.py
        from credits.services import grant_signup_bonus  # noqa: PLC0415 - models load after apps.py

        executors.register()

        # Every new account (signup page, API, social sign-in) gets the signup bonus.
        signup_hooks.register("credits.signup_bonus", grant_signup_bonus)

        from django.db.models.signals import post_delete, post_save  # noqa: PLC0415 - models load after apps.py

        from credits.models import FeatureCost  # noqa: PLC0415 - models load after apps.py
        from credits.services import forget_required_entitlements  # noqa: PLC0415 - models load after apps.py

        for signal in (post_save, post_delete):
            signal.connect(
                forget_required_entitlements,
                sender=FeatureCost,
                dispatch_uid=f"credits.required_entitlements.{signal is post_save}",
            )
        seed_steps.register("credits", seed_steps.command_step("seed_credits"), order=30)
