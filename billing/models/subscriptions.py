"""Subscriptions, their timeline, and the admin's views of them."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models.common import BillingSource
from catalog.models import Plan
from core.models import TimeStampedModel


class SubscriptionStatus(models.TextChoices):
    TRIALING = "TRIALING", "Trialing"
    ACTIVE = "ACTIVE", "Active"
    PAST_DUE = "PAST_DUE", "Past due"
    CANCELED = "CANCELED", "Canceled"
    UNPAID = "UNPAID", "Unpaid"
    INCOMPLETE = "INCOMPLETE", "Incomplete"
    INCOMPLETE_EXPIRED = "INCOMPLETE_EXPIRED", "Incomplete (expired)"
    PAUSED = "PAUSED", "Paused"


# A PAST_DUE subscription keeps its plan this long after it became past due, while Stripe
# retries the payment (Stripe's own smart-retry window is of this order).
PAST_DUE_GRACE = timedelta(days=7)


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def live(self) -> "SubscriptionQuerySet":
        """Subscriptions that are running (trialing, active, past due, unpaid, paused)."""
        return self.filter(status__in=Subscription.LIVE_STATUSES)

    def granting_plan(self) -> "SubscriptionQuerySet":
        """Subscriptions whose plan the customer has now: ACTIVE or TRIALING, or PAST_DUE
        within ``PAST_DUE_GRACE``."""
        grace_start = timezone.now() - PAST_DUE_GRACE
        S = SubscriptionStatus
        return self.filter(
            Q(status__in=[S.ACTIVE, S.TRIALING])
            | Q(status=S.PAST_DUE, past_due_since__gte=grace_start)
            | Q(status=S.PAST_DUE, past_due_since__isnull=True, current_period_end__gte=grace_start)
        )

    def for_update(self) -> "SubscriptionQuerySet":
        """Locked for update; only the subscription row is locked (its price may be null,
        and PostgreSQL cannot lock the nullable side of an outer join)."""
        return self.select_for_update(of=("self",))


class Subscription(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions"
    )
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey(
        "catalog.Price", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=20,
        choices=SubscriptionStatus.choices,
        default=SubscriptionStatus.INCOMPLETE,
        db_index=True,
    )
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    billing_source = models.CharField(
        max_length=16, choices=BillingSource.choices, default=BillingSource.STRIPE
    )
    stripe_subscription_id = models.CharField(max_length=255, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The Stripe event time (or API read time) of the state held here: older events are
    # ignored so out-of-order deliveries never move the subscription backwards.
    stripe_state_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    discount = models.ForeignKey(
        "Discount", on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions"
    )
    promotion_code = models.ForeignKey(
        "PromotionCode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscriptions",
        help_text="The promotion code the discount came from, when it was one.",
    )
    credit_balance = models.BigIntegerField(
        default=0,
        help_text="Manual billing: minor units owed to the customer (a downgrade's "
        "unused time), taken off the next invoice.",
    )
    checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)

    LIVE_STATUSES = ("TRIALING", "ACTIVE", "PAST_DUE", "UNPAID", "PAUSED")

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "status"]),
            models.Index(fields=["status", "current_period_end"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_balance__gte=0), name="subscription_credit_balance_gte_0"
            ),
            models.UniqueConstraint(
                fields=["stripe_subscription_id"],
                condition=Q(stripe_subscription_id__isnull=False),
                name="subscription_stripe_id_unique",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="subscription_quantity_gt_0"),
        ]

    def __str__(self):
        return f"{self.user} on {self.plan.name} ({self.get_status_display()})"

    @property
    def interval(self) -> str:
        return getattr(self.price, "interval", "") or ""

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES


class SubscriptionEvent(models.Model):
    """One step in a subscription's life. Append-only: PostgreSQL refuses UPDATE/DELETE."""

    class Type(models.TextChoices):
        CREATED = "CREATED", "Created"
        TRIAL_STARTED = "TRIAL_STARTED", "Trial started"
        TRIAL_WILL_END = "TRIAL_WILL_END", "Trial ending soon"
        TRIAL_EXTENDED = "TRIAL_EXTENDED", "Trial extended"
        ACTIVATED = "ACTIVATED", "Activated"
        RENEWED = "RENEWED", "Renewed"
        STATUS_CHANGED = "STATUS_CHANGED", "Status changed"
        PLAN_CHANGED = "PLAN_CHANGED", "Plan changed"
        CANCEL_SCHEDULED = "CANCEL_SCHEDULED", "Cancellation scheduled"
        RESUMED = "RESUMED", "Resumed"
        CANCELED = "CANCELED", "Canceled"
        PAUSED = "PAUSED", "Paused"
        UNPAUSED = "UNPAUSED", "Unpaused"
        INVOICE_CREATED = "INVOICE_CREATED", "Invoice created"
        INVOICE_PAID = "INVOICE_PAID", "Invoice paid"
        INVOICE_VOIDED = "INVOICE_VOIDED", "Invoice voided"
        PAYMENT_FAILED = "PAYMENT_FAILED", "Payment failed"
        PAYMENT_ACTION_REQUIRED = "PAYMENT_ACTION_REQUIRED", "Payment needs confirmation"
        UNCOLLECTIBLE = "UNCOLLECTIBLE", "Invoice uncollectible"
        CREDITS_GRANTED = "CREDITS_GRANTED", "Credits granted"
        PERIOD_COMPED = "PERIOD_COMPED", "Period given free"
        REFUNDED = "REFUNDED", "Payment refunded"
        DISPUTED = "DISPUTED", "Payment disputed"

    class Source(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        CUSTOMER = "customer", "Customer"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=32, choices=Type.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    message = models.CharField(max_length=300, help_text="Plain words, shown to the customer.")
    payload = models.JSONField(default=dict, blank=True)
    stripe_event_id = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscription", "created_at"], name="subevent_sub_created"),
            # Analytics prices a past day from the first plan change after it: one probe each.
            models.Index(
                fields=["subscription", "created_at", "id"],
                condition=Q(type="PLAN_CHANGED"),
                name="subevent_plan_changes",
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()}: {self.message}"


class PastDueSubscription(Subscription):
    """Admin list of subscriptions in dunning (past due or unpaid)."""

    class Meta:
        proxy = True
        verbose_name = "past-due subscription"


class PlanSubscribers(Plan):
    """Admin list of plans with their subscriber counts (catalog owns Plan itself)."""

    class Meta:
        proxy = True
        verbose_name = "plan subscribers"
        verbose_name_plural = "plan subscribers"
