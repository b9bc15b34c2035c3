"""Billing's business record: orders, payments, refunds, invoices, subscriptions, discounts.

dj-stripe mirrors Stripe's objects in its own tables; these models are what the product
believes. Money is always an integer amount of minor units plus an ISO-4217 currency.

The models live by topic in this package; each is importable from ``billing.models``.
"""

from billing.models.common import CURRENCY_LENGTH, BillingSource
from billing.models.customers import CustomerBillingProfile, PaymentMethod
from billing.models.discounts import Discount, DiscountType, DiscountUsage
from billing.models.invoices import CreditNote, Invoice, InvoiceStatus, StripeTaxRate, TaxRate
from billing.models.orders import (
    Cart,
    CartItem,
    IncludedDownload,
    Order,
    OrderItem,
    OrderStatus,
    PaymentStatus,
)
from billing.models.payments import Payment, Refund, RefundReason
from billing.models.promotions import PromotionCode
from billing.models.subscriptions import (
    PAST_DUE_GRACE,
    PastDueSubscription,
    PlanSubscribers,
    Subscription,
    SubscriptionEvent,
    SubscriptionQuerySet,
    SubscriptionStatus,
)
from billing.models.webhooks import StripeDrift, WebhookEvent

__all__ = [
    "CURRENCY_LENGTH",
    "BillingSource",
    "WebhookEvent",
    "StripeDrift",
    "CustomerBillingProfile",
    "PaymentMethod",
    "DiscountType",
    "Discount",
    "DiscountUsage",
    "PromotionCode",
    "Cart",
    "CartItem",
    "OrderStatus",
    "PaymentStatus",
    "Order",
    "OrderItem",
    "IncludedDownload",
    "SubscriptionStatus",
    "PAST_DUE_GRACE",
    "SubscriptionQuerySet",
    "Subscription",
    "SubscriptionEvent",
    "PastDueSubscription",
    "PlanSubscribers",
    "InvoiceStatus",
    "Invoice",
    "CreditNote",
    "TaxRate",
    "StripeTaxRate",
    "Payment",
    "RefundReason",
    "Refund",
]
