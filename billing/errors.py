"""Billing's refusals: each has a stable code for the API and a message for people."""

from rest_framework import status

from core.api import Conflict, DomainError, NotFound


class DiscountError(DomainError):
    code = "discount_invalid"
    default_message = "This discount code cannot be used."


class DiscountNotFound(DiscountError):
    code = "discount_not_found"
    default_message = "There is no discount with this code."


class DiscountInactive(DiscountError):
    code = "discount_inactive"
    default_message = "This discount code is not active."


class DiscountNotStarted(DiscountError):
    code = "discount_not_started"
    default_message = "This discount code is not valid yet."


class DiscountExpired(DiscountError):
    code = "discount_expired"
    default_message = "This discount code has expired."


class DiscountExhausted(DiscountError):
    code = "discount_exhausted"
    default_message = "This discount code has been used the maximum number of times."


class DiscountCustomerLimit(DiscountError):
    code = "discount_customer_limit"
    default_message = "You have already used this discount code the maximum number of times."


class DiscountMinimumNotMet(DiscountError):
    code = "discount_minimum_not_met"
    default_message = "Your order does not reach this discount's minimum amount."


class DiscountFirstOrderOnly(DiscountError):
    code = "discount_first_order_only"
    default_message = "This discount code is for a first purchase only, and it can be used once."


class DiscountNotApplicable(DiscountError):
    code = "discount_not_applicable"
    default_message = "This discount code does not apply to any product in your cart."


class DiscountCurrencyMismatch(DiscountError):
    code = "discount_currency_mismatch"
    default_message = "This discount code is for a different currency."


class PromotionCodeInactive(DiscountError):
    code = "promotion_code_inactive"
    default_message = "This promotion code is no longer active."


class PromotionCodeNotStarted(DiscountError):
    code = "promotion_code_not_started"
    default_message = "This promotion code is not valid yet."


class PromotionCodeExpired(DiscountError):
    code = "promotion_code_expired"
    default_message = "This promotion code has expired."


class PromotionCodeExhausted(DiscountError):
    code = "promotion_code_exhausted"
    default_message = "This promotion code has been used the maximum number of times."


class PromotionCodeCustomerLimit(DiscountError):
    code = "promotion_code_customer_limit"
    default_message = "You have already used this promotion code the maximum number of times."


class PromotionCodeFirstTimeOnly(DiscountError):
    code = "promotion_code_first_time_only"
    default_message = "This promotion code is for customers making their first purchase."


class PromotionCodeMinimumNotMet(DiscountError):
    code = "promotion_code_minimum_not_met"
    default_message = "Your order does not reach this promotion code's minimum amount."


class PromotionCodeCurrencyMismatch(DiscountError):
    code = "promotion_code_currency_mismatch"
    default_message = "This promotion code is for purchases in another currency."


class CartEmpty(DomainError):
    code = "cart_empty"
    default_message = "Your cart is empty."


class ProductUnavailable(DomainError):
    code = "product_unavailable"
    default_message = "This product is not available for purchase."


class PriceMismatch(DomainError):
    code = "price_invalid"
    default_message = "This price or variant does not belong to the product or is not for sale."


class MixedCurrencies(DomainError):
    code = "mixed_currencies"
    default_message = "All items in one order must be in the same currency."


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = "There is not enough stock for this product."


class StripeNotConfigured(DomainError):
    code = "stripe_unavailable"
    default_message = "Card payment through Stripe is not available. Choose bank transfer."


class PaymentProviderError(DomainError):
    code = "payment_provider_error"
    status_code = status.HTTP_502_BAD_GATEWAY
    default_message = "The payment provider could not be reached. Please try again."


class CartItemNotFound(NotFound):
    code = "cart_item_not_found"
    default_message = "This cart item does not exist."


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "This order does not exist."


class ProductNotFound(NotFound):
    code = "product_not_found"
    default_message = "This product does not exist."


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    default_message = "This order cannot be marked as paid in its current state."


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"
    default_message = "Only a pending order can be cancelled."


class PaymentAmountMismatch(Conflict):
    code = "payment_amount_mismatch"
    default_message = "The amount paid does not match the order total."


class PaymentAmountInvalid(DomainError):
    code = "payment_amount_invalid"
    default_message = "The amount received must be more than zero and at most what is due."


class PaymentDateInvalid(DomainError):
    code = "payment_date_invalid"
    default_message = "The date received cannot be in the future."


class PaymentReferenceRequired(DomainError):
    code = "payment_reference_required"
    default_message = (
        "A part payment needs its bank reference, so that the same transfer is "
        "never recorded twice."
    )


class PaymentReferenceUsed(Conflict):
    code = "payment_reference_used"
    default_message = "This bank reference is already recorded for another payment."


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    default_message = "This order has no completed payment to refund."


class RefundExceedsRemaining(DomainError):
    code = "refund_exceeds_remaining"
    default_message = "The refund is larger than what is left to refund on this order."


class RefundAmountInvalid(DomainError):
    code = "refund_amount_invalid"
    default_message = "The refund amount must be a positive number of minor units."


class DownloadNotAvailable(DomainError):
    code = "download_not_available"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "This item has no download."


class DownloadNotPaid(DomainError):
    code = "download_order_not_paid"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Downloads open once the order is paid."


class DownloadLimitReached(DomainError):
    code = "download_limit_reached"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "You have used every download this purchase allows."


class DownloadExpired(DomainError):
    code = "download_expired"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Access to this download has expired."


# --- subscriptions and invoices ------------------------------------------------------------


class PlanNotFound(NotFound):
    code = "plan_not_found"
    default_message = "This plan does not exist."


class PlanNotAvailable(DomainError):
    code = "plan_unavailable"
    default_message = "This plan cannot be subscribed to with this billing interval."


class SubscriptionExists(Conflict):
    code = "subscription_exists"
    default_message = (
        "You already have a subscription. Change its plan or cancel it instead of "
        "subscribing again."
    )


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"
    default_message = "This subscription does not exist."


class SubscriptionNotCancelable(Conflict):
    code = "subscription_not_cancelable"
    default_message = "This subscription has already ended or never started."


class SubscriptionNotResumable(Conflict):
    code = "subscription_not_resumable"
    default_message = "Only a subscription set to end at the period end can be resumed."


class SubscriptionNotChangeable(Conflict):
    code = "subscription_not_changeable"
    default_message = "The plan of this subscription cannot be changed in its current state."


class PlanChangeInvalid(DomainError):
    code = "plan_change_invalid"
    default_message = "Choose a different plan or interval."


class NoPaymentProfile(DomainError):
    code = "no_payment_profile"
    default_message = "There is no card on file to update: you have never paid through Stripe."


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"
    default_message = "This invoice does not exist."


class InvoiceStateInvalid(Conflict):
    code = "invoice_state_invalid"
    default_message = "This invoice cannot do that in its current state."


class TrialExtensionInvalid(DomainError):
    code = "trial_extension_invalid"
    default_message = "Only a trialing subscription can have its trial extended (1–90 days)."


class StaffActionRefused(DomainError):
    """A staff action's payload that billing refuses before acting (a refund of another
    customer's order, a trial that is not the customer's or no longer where it was). Each
    refusal names its own ``code``; the approval flow shows its message as it is."""

    code = "staff_action_refused"
    default_message = "This staff action cannot be carried out."


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    default_message = "No such payment."
