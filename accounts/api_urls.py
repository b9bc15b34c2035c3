from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/signup/", api.SignupView.as_view(), name="auth-signup"),
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/export/", api.MeExportView.as_view(), name="me-export"),
    path("me/sessions/", api.MySessionsView.as_view(), name="me-sessions"),
    path("me/sessions/<int:session_id>/", api.MySessionView.as_view(), name="me-session"),
    path("me/api-keys/", api.MyApiKeysView.as_view(), name="me-api-keys"),
    path("me/api-keys/<int:key_id>/", api.MyApiKeyView.as_view(), name="me-api-key"),
]
