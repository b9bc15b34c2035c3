from django.conf import settings

from core.system_config import get_config


def site(request):
    return {
        "business_name": get_config("business_name"),
        "stripe_enabled": bool(settings.STRIPE["secret_key"]),
    }
