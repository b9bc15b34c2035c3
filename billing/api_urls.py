from django.urls import path

from billing import api

urlpatterns = [
    path("cart/", api.CartView.as_view(), name="billing-cart"),
    path("cart/items/<int:item_id>/", api.CartItemView.as_view(), name="billing-cart-item"),
    path("checkout/", api.CheckoutView.as_view(), name="billing-checkout"),
    path("orders/", api.OrderListView.as_view(), name="billing-orders"),
    path("orders/<str:number>/", api.OrderDetailView.as_view(), name="billing-order"),
    path("orders/<str:number>/items/<int:item_id>/download/", api.DownloadView.as_view(),
         name="billing-order-download"),
]
