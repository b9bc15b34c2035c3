from django.urls import path

from analytics import api

urlpatterns = [
    path("analytics/metrics/", api.MetricsView.as_view(), name="analytics-metrics"),
]
