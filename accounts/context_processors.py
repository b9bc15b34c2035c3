from django.conf import settings


def site(request):
    from core.system_config import get_config

    return {
        "business_name": get_config("business_name"),
        "stripe_enabled": bool(settings.STRIPE["secret_key"]),
    }
