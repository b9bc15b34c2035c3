from django.urls import path

from social_signin import views

app_name = "social_signin"

urlpatterns = [
    path("account/linked/<str:account_id>/remove/", views.unlink, name="unlink"),
]
