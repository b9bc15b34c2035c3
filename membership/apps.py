from django.apps import AppConfig


class MembershipConfig(AppConfig):
    name = "membership"

    def ready(self):
        from accounts import user_extras
        from membership.selectors import membership_of
        from membership.serializers import MembershipSerializer, membership_body

        # The account overview page and ``membership`` on GET /me show the membership.
        user_extras.register("membership", api_body=membership_body,
                             api_serializer=MembershipSerializer, page_value=membership_of)
