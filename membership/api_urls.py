from django.urls import path

from membership import api

urlpatterns = [
    path("membership/", api.MembershipView.as_view(), name="membership"),
]
