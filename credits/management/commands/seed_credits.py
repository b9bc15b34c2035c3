"""Demo data for credits: the metered operations, the signup bonus for every customer and a
few weeks of usage for the demo customer, so the credits page has something to show.

Safe to run again: feature costs are upserted by key, grants and consumptions carry
idempotency keys, so a second run adds nothing.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import Role, User
from credits import services
from credits.models import FeatureCost, GrantSource

FEATURES = [
    ("AI_TEXT_CHAT", "Text chat", "One chat reply from the assistant.", ["ai", "text"], 1),
    ("AI_IMAGE_GENERATION", "Image generation", "One generated image.", ["ai", "image"], 5),
    (
        "AI_VIDEO_GENERATION",
        "Video generation",
        "One short generated video clip.",
        ["ai", "video"],
        40,
    ),
    ("SHORTS_SCRIPT", "Shorts script", "A script for a short-form video.", ["shorts"], 3),
    ("SHORTS_MEDIA", "Shorts media", "Voice-over and media for a short.", ["shorts"], 15),
]
# Operations only some plans include (the plans' entitlements).
REQUIRED_ENTITLEMENTS = {"AI_VIDEO_GENERATION": "ai_video_generation"}
DEMO_USAGE = [("AI_TEXT_CHAT", 4), ("AI_IMAGE_GENERATION", 1), ("SHORTS_SCRIPT", 1)]


class Command(BaseCommand):
    help = "Create feature costs, signup bonuses and demo usage (idempotent)."

    def handle(self, *args, **options):
        for operation, name, description, tags, cost in FEATURES:
            FeatureCost.objects.get_or_create(
                operation=operation,
                defaults={
                    "name": name,
                    "description": description,
                    "tags": tags,
                    "cost": cost,
                    "required_entitlement": REQUIRED_ENTITLEMENTS.get(operation, ""),
                },
            )
        customers = User.objects.filter(role=Role.CUSTOMER).order_by("pk")
        for user in customers:
            services.grant_signup_bonus(user=user)
        demo = customers.filter(email="alice@demo.example").first()
        if demo is not None:
            self._demo_usage(demo)
        self.stdout.write(
            f"credits: {len(FEATURES)} operations, "
            f"{customers.count()} customers with a signup bonus"
        )

    def _demo_usage(self, user) -> None:
        services.grant_credits(
            user=user,
            amount=500,
            source=GrantSource.PURCHASE,
            idempotency_key="demo:pack",
            source_ref="demo",
            expires_at=timezone.now() + timedelta(days=5),
        )
        for day in range(14):
            for operation, quantity in DEMO_USAGE:
                services.consume_credits(
                    user=user,
                    operation=operation,
                    quantity=quantity + day % 3,
                    idempotency_key=f"demo:{operation}:{day}",
                )
