from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/", views.overview, name="overview"),
    path("account/profile/", views.profile, name="profile"),
    path("account/sessions/", views.sessions, name="sessions"),
    path("account/sessions/<int:session_id>/revoke/", views.revoke_session, name="revoke_session"),
    path("account/api-keys/", views.api_keys, name="api_keys"),
    path("account/api-keys/new/", views.create_api_key, name="create_api_key"),
    path("account/api-keys/<int:key_id>/revoke/", views.revoke_api_key, name="revoke_api_key"),
    path("account/export/", views.export, name="export"),
    path("account/export/download/", views.export_download, name="export_download"),
    path("account/delete/", views.delete_account, name="delete"),
]
