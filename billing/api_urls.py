from django.urls import path

from billing import api
from billing import api_payments as payments
from billing import api_subscriptions as subs

urlpatterns = [
    path("payments/", payments.PaymentListView.as_view(), name="billing-payments"),
    path("payments/<str:pk>/", payments.PaymentDetailView.as_view(), name="billing-payment"),
    path("cart/", api.CartView.as_view(), name="billing-cart"),
    path("cart/items/<int:item_id>/", api.CartItemView.as_view(), name="billing-cart-item"),
    path("checkout/", api.CheckoutView.as_view(), name="billing-checkout"),
    path("orders/", api.OrderListView.as_view(), name="billing-orders"),
    path("orders/<str:number>/", api.OrderDetailView.as_view(), name="billing-order"),
    path(
        "orders/<str:number>/items/<int:item_id>/download/",
        api.DownloadView.as_view(),
        name="billing-order-download",
    ),
    path(
        "downloads/<int:product_id>/",
        api.IncludedDownloadView.as_view(),
        name="billing-included-download",
    ),
    path("subscriptions/", subs.SubscriptionListView.as_view(), name="billing-subscriptions"),
    path(
        "subscriptions/<str:pk>/",
        subs.SubscriptionDetailView.as_view(),
        name="billing-subscription",
    ),
    path(
        "subscriptions/<str:pk>/cancel/",
        subs.CancelView.as_view(),
        name="billing-subscription-cancel",
    ),
    path(
        "subscriptions/<str:pk>/resume/",
        subs.ResumeView.as_view(),
        name="billing-subscription-resume",
    ),
    path(
        "subscriptions/<str:pk>/change-plan/",
        subs.ChangePlanView.as_view(),
        name="billing-subscription-change-plan",
    ),
    path(
        "subscriptions/<str:pk>/payment-method/",
        subs.PaymentMethodView.as_view(),
        name="billing-subscription-payment-method",
    ),
    path("invoices/", subs.InvoiceListView.as_view(), name="billing-invoices"),
    path("invoices/<str:number>/", subs.InvoiceDetailView.as_view(), name="billing-invoice"),
    path("entitlements/", subs.EntitlementsView.as_view(), name="billing-entitlements"),
]
