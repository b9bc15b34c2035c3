"""The membership as the API shows it (GET /api/v1/membership/ and ``membership`` on /me/)."""

from rest_framework import serializers

from membership import selectors


class MembershipPlanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    entitlements = serializers.ListField(child=serializers.CharField())
    storage_quota_bytes = serializers.IntegerField(allow_null=True)


class MembershipSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=selectors.STATUSES,
        help_text="ACTIVE, TRIALING, PAST_DUE (a payment failed), CANCELED (the latest "
        "subscription ended or is paused) or NONE (never subscribed).",
    )
    has_access = serializers.BooleanField(
        help_text="Whether the plan's entitlements apply now (a past-due membership keeps "
        "them through the grace period)."
    )
    plan = MembershipPlanSerializer(allow_null=True)
    period_end = serializers.DateTimeField(
        allow_null=True,
        help_text="When the current period (or the trial) ends; for CANCELED, "
        "the end of the last period.",
    )
    cancel_at_period_end = serializers.BooleanField()
    subscription_id = serializers.IntegerField(allow_null=True)
    subscription_status = serializers.CharField(
        allow_null=True, help_text="The subscription's own status (e.g. UNPAID, PAUSED)."
    )


def membership_body(user) -> dict:
    found = selectors.membership_of(user=user)
    plan = found.plan
    return MembershipSerializer(
        {
            "status": found.status,
            "has_access": found.has_access,
            "plan": None
            if plan is None
            else {
                "id": plan.pk,
                "name": plan.name,
                "slug": plan.slug,
                "entitlements": [str(e) for e in plan.entitlements or []],
                "storage_quota_bytes": plan.storage_quota_bytes,
            },
            "period_end": found.period_end,
            "cancel_at_period_end": found.cancel_at_period_end,
            "subscription_id": getattr(found.subscription, "pk", None),
            "subscription_status": getattr(found.subscription, "status", None),
        }
    ).data
