import factory

from accounts.factories import UserFactory
from credits.models import FeatureCost, GrantSource
from credits.services import grant_credits


class FeatureCostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeatureCost
        django_get_or_create = ("operation",)

    operation = factory.Sequence(lambda n: f"OPERATION_{n}")
    name = factory.LazyAttribute(lambda o: o.operation.replace("_", " ").title())
    description = "A metered operation."
    tags = factory.LazyFunction(lambda: ["ai"])
    cost = 5
    active = True


def funded_user(*, credits: int, user=None, expires_at=None, key: str = ""):
    """A user holding ``credits`` in one lot, granted through the real service."""

    user = user or UserFactory()
    if credits:
        grant_credits(
            user=user,
            amount=credits,
            source=GrantSource.PROMO,
            expires_at=expires_at,
            idempotency_key=key or None,
        )
    return user
