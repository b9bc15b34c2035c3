"""Billing's business record: orders, payments, refunds, invoices, subscriptions, discounts.

dj-stripe mirrors Stripe's objects in its own tables; these models are what the product
believes. Money is always an integer amount of minor units plus an ISO-4217 currency.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from catalog.models import Plan
from core.fields import EncryptedJSONField
from core.models import TimeStampedModel
from core.money import format_money

CURRENCY_LENGTH = 3


class BillingSource(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual (bank transfer)"


# --- Stripe webhook inbox ------------------------------------------------------------------


class WebhookEvent(TimeStampedModel):
    """One Stripe event as it was delivered. Recorded before it is believed (STYLE rule 6)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    event_created = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.type} {self.stripe_event_id}"


# --- customers ------------------------------------------------------------------------------


class CustomerBillingProfile(TimeStampedModel):
    """The user's link to their Stripe customer (created on first Stripe checkout)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="billing_profile")
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    djstripe_customer = models.ForeignKey("djstripe.Customer", on_delete=models.SET_NULL,
                                          null=True, blank=True, related_name="+")
    billing_email = models.EmailField(blank=True)
    billing_name = models.CharField(max_length=255, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    stripe_updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Billing profile of {self.user}"


class PaymentMethod(TimeStampedModel):
    """A payment method as Stripe describes it: brand and last4, never card numbers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="payment_methods")
    stripe_payment_method_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, default="card")
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    billing_details = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.brand or self.type} •••• {self.last4}"


# --- discounts ------------------------------------------------------------------------------


class DiscountType(models.TextChoices):
    PERCENTAGE = "PERCENTAGE", "Percentage"
    FIXED_AMOUNT = "FIXED_AMOUNT", "Fixed amount"


class Discount(TimeStampedModel):
    code = models.CharField(max_length=64, help_text="Matched case-insensitively.")
    name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=16, choices=DiscountType.choices)
    percent_off = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True,
                                      help_text="For PERCENTAGE: in (0, 100].")
    amount_off = models.BigIntegerField(null=True, blank=True,
                                        help_text="For FIXED_AMOUNT: minor units, > 0.")
    currency = models.CharField(max_length=CURRENCY_LENGTH, blank=True,
                                help_text="Required for FIXED_AMOUNT; lower-case ISO code.")
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    minimum_amount = models.BigIntegerField(default=0, help_text="Minor units of the order.")
    first_time_only = models.BooleanField(default=False)
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="discounts",
                                      help_text="Empty means every product.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="discount_code_unique_ci"),
            models.CheckConstraint(
                condition=(
                    Q(type=DiscountType.PERCENTAGE, percent_off__gt=0, percent_off__lte=100,
                      amount_off__isnull=True)
                    | Q(type=DiscountType.FIXED_AMOUNT, amount_off__gt=0,
                        percent_off__isnull=True, currency__regex=r"^[a-z]{3}$")
                ),
                name="discount_value_matches_type",
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses_count__lte=F("max_uses")),
                name="discount_uses_within_max",
            ),
            models.CheckConstraint(condition=Q(minimum_amount__gte=0),
                                   name="discount_minimum_gte_0"),
        ]

    def __str__(self):
        return self.code


# --- carts ----------------------------------------------------------------------------------


class Cart(TimeStampedModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="cart")
    discount = models.ForeignKey(Discount, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")

    def __str__(self):
        return f"Cart of {self.user}"


class CartItem(TimeStampedModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.CASCADE, null=True,
                                blank=True, related_name="+")
    price = models.ForeignKey("catalog.Price", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="+")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartitem_quantity_gt_0"),
        ]


# --- orders ---------------------------------------------------------------------------------


class OrderStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    REFUNDED = "REFUNDED", "Refunded"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "Partially refunded"


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"
    REFUNDED = "REFUNDED", "Refunded"


class Order(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="orders")
    status = models.CharField(max_length=24, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING, db_index=True)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices,
                                      default=PaymentStatus.PENDING, db_index=True)
    billing_source = models.CharField(max_length=16, choices=BillingSource.choices)
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    subtotal = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    refunded_amount = models.BigIntegerField(default=0)
    discount = models.ForeignKey(Discount, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="orders")
    # Personal data: encrypted at rest like the user's own address; only the address fields
    # (accounts.profile.ADDRESS_KEYS) are kept. Erased when the account is deleted.
    billing_address = EncryptedJSONField(blank=True, null=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    internal_notes = models.TextField(blank=True, help_text="Staff only; never shown to the "
                                                            "customer.")
    metadata = models.JSONField(default=dict, blank=True)
    stripe_checkout_session_id = models.CharField(max_length=255, unique=True, null=True,
                                                  blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True,
                                                blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(condition=Q(subtotal__gte=0, discount_amount__gte=0,
                                               tax__gte=0, refunded_amount__gte=0),
                                   name="order_amounts_gte_0"),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("total")),
                                   name="order_refunded_lte_total"),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount_amount") + F("tax")),
                name="order_total_formula",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return self.number

    @property
    def refundable_amount(self) -> int:
        return self.total - self.refunded_amount

    @property
    def invoice_or_none(self):
        try:
            return self.invoice
        except Invoice.DoesNotExist:
            return None


class OrderItem(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey("catalog.Price", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    description = models.CharField(max_length=255, help_text="Product name at purchase time.")
    product_type = models.CharField(max_length=32, blank=True)
    quantity = models.PositiveIntegerField()
    unit_amount = models.BigIntegerField()
    line_total = models.BigIntegerField(help_text="Before discount and tax.")
    discount_amount = models.BigIntegerField(default=0)
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    tax = models.BigIntegerField(default=0)
    credits_granted = models.BigIntegerField(default=0, help_text="Total credits for the line.")
    download_count = models.PositiveIntegerField(default=0)
    download_limit = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Snapshot; empty = unlimited.")
    access_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderitem_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_amount__gte=0, line_total__gte=0, tax__gte=0,
                                               discount_amount__gte=0),
                                   name="orderitem_amounts_gte_0"),
            models.CheckConstraint(
                condition=Q(download_limit__isnull=True)
                | Q(download_count__lte=F("download_limit")),
                name="orderitem_downloads_within_limit",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.description}"

    @property
    def grant_idempotency_key(self) -> str:
        return f"order-item-{self.pk}-credits"


# --- invoices and subscriptions --------------------------------------------------------------


class SubscriptionStatus(models.TextChoices):
    TRIALING = "TRIALING", "Trialing"
    ACTIVE = "ACTIVE", "Active"
    PAST_DUE = "PAST_DUE", "Past due"
    CANCELED = "CANCELED", "Canceled"
    UNPAID = "UNPAID", "Unpaid"
    INCOMPLETE = "INCOMPLETE", "Incomplete"
    INCOMPLETE_EXPIRED = "INCOMPLETE_EXPIRED", "Incomplete (expired)"
    PAUSED = "PAUSED", "Paused"


class Subscription(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="subscriptions")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey("catalog.Price", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices,
                              default=SubscriptionStatus.INCOMPLETE, db_index=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    billing_source = models.CharField(max_length=16, choices=BillingSource.choices,
                                      default=BillingSource.STRIPE)
    stripe_subscription_id = models.CharField(max_length=255, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The Stripe event time (or API read time) of the state held here: older events are
    # ignored so out-of-order deliveries never move the subscription backwards.
    stripe_state_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    discount = models.ForeignKey("Discount", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="subscriptions")
    credit_balance = models.BigIntegerField(
        default=0, help_text="Manual billing: minor units owed to the customer (a downgrade's "
                             "unused time), taken off the next invoice.")
    checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)

    LIVE_STATUSES = ("TRIALING", "ACTIVE", "PAST_DUE", "UNPAID", "PAUSED")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"]),
                   models.Index(fields=["status", "current_period_end"])]
        constraints = [
            models.CheckConstraint(condition=Q(credit_balance__gte=0),
                                   name="subscription_credit_balance_gte_0"),
            models.UniqueConstraint(fields=["stripe_subscription_id"],
                                    condition=Q(stripe_subscription_id__isnull=False),
                                    name="subscription_stripe_id_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0),
                                   name="subscription_quantity_gt_0"),
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

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT,
                                     related_name="events")
    type = models.CharField(max_length=32, choices=Type.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    message = models.CharField(max_length=300, help_text="Plain words, shown to the customer.")
    payload = models.JSONField(default=dict, blank=True)
    stripe_event_id = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscription", "created_at"], name="subevent_sub_created"),
            # Analytics prices a past day from the first plan change after it: one probe each.
            models.Index(fields=["subscription", "created_at", "id"],
                         condition=Q(type="PLAN_CHANGED"), name="subevent_plan_changes"),
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


class StripeDrift(TimeStampedModel):
    """A difference between our record and Stripe's, found by the daily reconciliation."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, null=True,
                                     blank=True, related_name="drifts")
    object_id = models.CharField(max_length=255)
    field = models.CharField(max_length=64)
    local_value = models.CharField(max_length=255, blank=True)
    stripe_value = models.CharField(max_length=255, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.object_id}.{self.field}: {self.local_value} != {self.stripe_value}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    OPEN = "OPEN", "Open"
    PAID = "PAID", "Paid"
    VOID = "VOID", "Void"
    UNCOLLECTIBLE = "UNCOLLECTIBLE", "Uncollectible"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "Partially refunded"
    REFUNDED = "REFUNDED", "Refunded"


class Invoice(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="invoices")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="invoice")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="invoices")
    status = models.CharField(max_length=20, choices=InvoiceStatus.choices,
                              default=InvoiceStatus.OPEN, db_index=True)
    billing_source = models.CharField(max_length=16, choices=BillingSource.choices,
                                      default=BillingSource.MANUAL)
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    lines = models.JSONField(default=list, blank=True)
    subtotal = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    amount_paid = models.BigIntegerField(default=0)
    amount_due = models.BigIntegerField()
    refunded_amount = models.BigIntegerField(
        default=0, db_default=0,
        help_text="Refunded or being refunded (pending refunds included), and lost to disputes.")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=64, blank=True,
                                         help_text="What the customer writes on the transfer.")
    stripe_invoice_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_number = models.CharField(max_length=64, blank=True)
    hosted_invoice_url = models.URLField(max_length=2000, blank=True)
    billing_reason = models.CharField(max_length=40, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    stripe_state_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["stripe_invoice_id"],
                                    condition=Q(stripe_invoice_id__isnull=False),
                                    name="invoice_stripe_id_unique"),
            models.CheckConstraint(condition=Q(total__gte=0, amount_paid__gte=0,
                                               amount_due__gte=0),
                                   name="invoice_amounts_gte_0"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("total")),
                                   name="invoice_paid_lte_total"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0,
                                               refunded_amount__lte=F("amount_paid")),
                                   name="invoice_refunded_lte_paid"),
            # Our own invoices add up; Stripe's carry Stripe's figures (inclusive taxes).
            models.CheckConstraint(
                condition=Q(billing_source="stripe")
                | Q(total=F("subtotal") - F("discount_amount") + F("tax")),
                name="invoice_total_adds_up"),
        ]

    @property
    def refundable_amount(self) -> int:
        return max(0, self.amount_paid - self.refunded_amount)

    def __str__(self):
        return self.number


# --- money movements ------------------------------------------------------------------------


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="payments")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="payments")
    provider = models.CharField(max_length=16, choices=BillingSource.choices)
    provider_id = models.CharField(max_length=255, blank=True,
                                   help_text="Stripe payment intent id, or the bank reference.")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCEEDED)
    method_type = models.CharField(max_length=32, blank=True)
    method_brand = models.CharField(max_length=32, blank=True)
    method_last4 = models.CharField(max_length=4, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True,
                                                default="", db_default="")
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True, default="",
                                        db_default="")
    paid_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    metadata = models.JSONField(default=dict, blank=True)
    receipt_number = models.CharField(
        max_length=32, null=True, blank=True, unique=True,
        help_text="Given when the payment succeeds and its receipt e-mail is queued.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_gt_0"),
            # Stripe pays an order or an invoice once: a second success (a duplicate
            # webhook, several success events for one checkout) cannot insert a second row.
            # A bank transfer may come in parts (billing.services.invoices), each its own
            # row under the invoice's lock, with its own bank reference (the unique
            # provider id below).
            models.UniqueConstraint(fields=["order"],
                                    condition=Q(status="SUCCEEDED", provider="stripe"),
                                    name="payment_one_stripe_success_per_order"),
            models.UniqueConstraint(fields=["invoice"],
                                    condition=Q(status="SUCCEEDED", provider="stripe"),
                                    name="payment_one_stripe_success_per_invoice"),
            models.UniqueConstraint(fields=["provider", "provider_id"],
                                    condition=~Q(provider_id=""),
                                    name="payment_provider_id_unique"),
        ]

    def __str__(self):
        return (f"{self.get_provider_display()} payment of "
                f"{format_money(self.amount, self.currency)}")


class RefundReason(models.TextChoices):
    REQUESTED_BY_CUSTOMER = "REQUESTED_BY_CUSTOMER", "Requested by customer"
    DUPLICATE = "DUPLICATE", "Duplicate"
    FRAUDULENT = "FRAUDULENT", "Fraudulent"
    SUBSCRIPTION_CANCELED = "SUBSCRIPTION_CANCELED", "Subscription canceled"
    DISPUTED = "DISPUTED", "Disputed by the cardholder"
    OTHER = "OTHER", "Other"


class Refund(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        CANCELED = "CANCELED", "Canceled"

    # An order's refund, or a refund of a subscription invoice's payment: one or the other.
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds",
                              null=True, blank=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds",
                                null=True, blank=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    reason = models.CharField(max_length=32, choices=RefundReason.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    notes = models.TextField(blank=True)
    provider = models.CharField(max_length=16, choices=BillingSource.choices)
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_dispute_id = models.CharField(max_length=255, null=True, blank=True,
                                         help_text="Set when the money went back through a "
                                                   "dispute (chargeback), not a refund.")
    idempotency_key = models.CharField(max_length=100, unique=True)
    failure_reason = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+")
    notice_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer's refund e-mail was queued.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.UniqueConstraint(fields=["stripe_refund_id"],
                                    condition=Q(stripe_refund_id__isnull=False),
                                    name="refund_stripe_id_unique"),
            models.UniqueConstraint(fields=["stripe_dispute_id"],
                                    condition=Q(stripe_dispute_id__isnull=False),
                                    name="refund_stripe_dispute_unique"),
            models.CheckConstraint(condition=Q(order__isnull=False, invoice__isnull=True)
                                   | Q(order__isnull=True, invoice__isnull=False),
                                   name="refund_of_order_or_invoice"),
        ]

    def __str__(self):
        what = (f"order {self.order_id}" if self.order_id else f"invoice {self.invoice_id}")
        return f"Refund of {format_money(self.amount, self.currency)} on {what}"


class CreditNote(TimeStampedModel):
    """The document that cancels all or part of a paid invoice: one per refund or dispute of
    a subscription payment. Numbered like invoices (CN-2026-000001), printable."""

    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, related_name="credit_note")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    reason = models.CharField(max_length=32, choices=RefundReason.choices)
    credits_clawed_back = models.BigIntegerField(default=0)
    credits_unrecovered = models.BigIntegerField(
        default=0, help_text="Plan credits the policy would take back that were already spent.")
    clawback_policy = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditnote_amount_gt_0"),
        ]

    def __str__(self):
        return self.number


class DiscountUsage(TimeStampedModel):
    discount = models.ForeignKey(Discount, on_delete=models.PROTECT, related_name="usages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="discount_usage")
    subscription = models.OneToOneField(Subscription, on_delete=models.CASCADE, null=True,
                                        blank=True, related_name="discount_usage")
    amount_saved = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["discount", "user"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_saved__gte=0),
                                   name="discountusage_amount_gte_0"),
            # One use is one purchase: an order or a subscription, never both or neither.
            models.CheckConstraint(
                condition=(Q(order__isnull=False, subscription__isnull=True)
                           | Q(order__isnull=True, subscription__isnull=False)),
                name="discountusage_order_xor_subscription"),
        ]


class TaxRate(TimeStampedModel):
    """The tax rate charged to customers in one country (billing.tax decides which applies)."""

    country = models.CharField(max_length=2, unique=True,
                               help_text="ISO 3166 two-letter code, upper case (DE, FR, GB).")
    name = models.CharField(max_length=40, default="VAT")
    rate = models.DecimalField(max_digits=5, decimal_places=4,
                               help_text="A fraction: 0.2000 is 20 %.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lt=1),
                                   name="taxrate_rate_in_0_1"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"),
                                   name="taxrate_country_code"),
        ]

    def __str__(self):
        return f"{self.country} {self.name} {self.rate * 100:.2f}%"
