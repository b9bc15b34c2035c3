from django.urls import path

from billing import views
from billing import views_payments as pays
from billing import views_subscriptions as subs
from billing.views_credit_notes import credit_note_page

app_name = "billing"

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
    # Also without the slash (`stripe listen --forward-to host/webhooks/stripe`): APPEND_SLASH
    # cannot redirect a POST.
    path("webhooks/stripe", views.stripe_webhook, name="stripe-webhook-no-slash"),
    path("cart/", views.cart_page, name="cart"),
    path("checkout/", views.checkout_page, name="checkout"),
    path("checkout/success/", views.checkout_success, name="checkout-success"),
    path("checkout/cancel/", views.checkout_cancel, name="checkout-cancel"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/invoice/", views.invoice_page, name="invoice"),
    path("orders/<str:number>/items/<int:item_id>/download/", views.download, name="download"),
    path("billing/downloads/<int:product_id>/", views.included_download, name="included-download"),
    path("billing/subscribe/<slug:slug>/", subs.subscribe_page, name="subscribe"),
    path("billing/subscription/", subs.subscription_page, name="subscription"),
    path("billing/subscriptions/<str:pk>/cancel/", subs.cancel_view, name="subscription-cancel"),
    path("billing/subscriptions/<str:pk>/resume/", subs.resume_view, name="subscription-resume"),
    path(
        "billing/subscriptions/<str:pk>/change-plan/",
        subs.change_plan_view,
        name="subscription-change-plan",
    ),
    path(
        "billing/subscriptions/<str:pk>/payment-method/",
        subs.payment_method_view,
        name="subscription-payment-method",
    ),
    path("billing/invoices/", subs.invoice_list, name="invoices"),
    path("billing/invoices/<str:number>/", subs.invoice_detail, name="subscription-invoice"),
    path("billing/invoices/<str:number>/pdf/", subs.invoice_pdf, name="invoice-pdf"),
    path("billing/credit-notes/<str:number>/", credit_note_page, name="credit-note"),
    path("billing/payments/", pays.payment_list, name="payments"),
    path("billing/payments/cards/", pays.saved_cards, name="payment-cards"),
    path("billing/payments/<str:pk>/", pays.receipt_page, name="payment"),
    path("billing/payments/<str:pk>/pdf/", pays.receipt_pdf, name="payment-pdf"),
]
