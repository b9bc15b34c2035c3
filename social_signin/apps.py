from django.apps import AppConfig


class SocialSigninConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "social_signin"
    verbose_name = "Social sign-in"

    def ready(self):
        from social_signin import signals  # noqa: F401 - audit of linked accounts
