from django.apps import AppConfig


class MembershipConfig(AppConfig):
    name = "membership"

    def ready(self):
        from accounts import user_extras  # noqa: PLC0415 - models load after apps.py
        from membership.selectors import membership_of  # noqa: PLC0415 - models load after apps.py
        from membership.serializers import MembershipSerializer, membership_body  # noqa: PLC0415 - models load after apps.py

        # The account overview page and ``membership`` on GET /me show the membership.
        user_extras.register(
            "membership",
            api_body=membership_body,
            api_serializer=MembershipSerializer,
            page_value=membership_of,
        )
