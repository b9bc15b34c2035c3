"""What ``seed_history`` builds on, for tests: customers, feature costs, a credit pack with
its price, a plan subscription and a staff member (seed_demo makes the real ones)."""

from accounts.factories import AdminFactory, UserFactory
from billing.factories import SubscriptionFactory
from catalog.factories import CreditPackFactory, PlanFactory, PriceFactory
from credits.factories import FeatureCostFactory
from credits.models import CreditBalance


def history_inputs(*, customers: int = 3) -> list:
    """``customers`` active customers (the first on a plan with monthly credits), their
    balance rows, the operations they use, a pack to buy and a staff member; returns the
    customers, first by id."""
    for operation, cost in (
        ("AI_TEXT_CHAT", 1),
        ("SHORTS_SCRIPT", 3),
        ("AI_IMAGE_GENERATION", 5),
        ("AI_VIDEO_GENERATION", 40),
    ):
        FeatureCostFactory(operation=operation, cost=cost)
    PriceFactory(
        product=CreditPackFactory(name="500 credits", credits_granted=500), unit_amount=900
    )
    AdminFactory()
    made = [UserFactory() for _ in range(customers)]
    for user in made:
        CreditBalance.objects.get_or_create(user=user)
    plan = PlanFactory()
    SubscriptionFactory(user=made[0], plan=plan, price=plan.monthly_price, billing_source="manual")
    return sorted(made, key=lambda user: user.pk)
