from django.urls import path

from credits import api

urlpatterns = [
    path("credits/", api.CreditSummaryView.as_view(), name="credits-summary"),
    path("credits/transactions/", api.TransactionListView.as_view(), name="credits-transactions"),
    path("credits/costs/", api.CostListView.as_view(), name="credits-costs"),
    path("credits/consume/", api.ConsumeView.as_view(), name="credits-consume"),
]
