import factory
from django.utils import timezone

from accounts.factories import UserFactory
from billing.models import (
    BillingSource,
    CustomerBillingProfile,
    Discount,
    DiscountType,
    Order,
    OrderItem,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
)
from billing.services.numbers import next_number
from catalog.factories import PlanFactory, ProductFactory


class DiscountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discount

    code = factory.Sequence(lambda n: f"SAVE{n}")
    name = "Test discount"
    type = DiscountType.PERCENTAGE
    percent_off = 10
    active = True


class FixedDiscountFactory(DiscountFactory):
    type = DiscountType.FIXED_AMOUNT
    percent_off = None
    amount_off = 500
    currency = "usd"


class OrderFactory(factory.django.DjangoModelFactory):
    """A bare order; the totals are consistent (no discount, no tax) unless overridden."""

    class Meta:
        model = Order

    number = factory.LazyFunction(lambda: next_number("ORD"))
    user = factory.SubFactory(UserFactory)
    billing_source = BillingSource.MANUAL
    currency = "usd"
    subtotal = 1900
    discount_amount = 0
    tax = 0
    total = factory.LazyAttribute(lambda o: o.subtotal - o.discount_amount + o.tax)


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    description = factory.LazyAttribute(lambda o: o.product.name)
    quantity = 1
    unit_amount = 1900
    line_total = factory.LazyAttribute(lambda o: o.unit_amount * o.quantity)


class CustomerBillingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerBillingProfile

    user = factory.SubFactory(UserFactory)
    stripe_customer_id = factory.Sequence(lambda n: f"cus_factory{n:06d}")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    user = factory.SubFactory(UserFactory)
    plan = factory.SubFactory("catalog.factories.PlanFactory")
    status = SubscriptionStatus.ACTIVE
    current_period_start = factory.LazyFunction(timezone.now)
    current_period_end = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=30))
    billing_source = BillingSource.STRIPE


class WebhookEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    stripe_event_id = factory.Sequence(lambda n: f"evt_factory{n:08d}")
    type = "customer.updated"
    payload = factory.LazyAttribute(
        lambda o: {"id": o.stripe_event_id, "type": o.type, "data": {"object": {}}}
    )


def give_entitlements(user, *keys: str, **plan_fields):
    """Subscribe ``user`` (active, this month) to a new plan whose entitlements are ``keys``.
    Returns the subscription."""
    plan = PlanFactory(entitlements=list(keys), **plan_fields)
    return SubscriptionFactory(user=user, plan=plan, price=plan.monthly_price)


def give_api_access(user, *more: str):
    """What a customer needs to call the API with a key: a plan including ``api_access``."""
    return give_entitlements(user, "api_access", *more)
