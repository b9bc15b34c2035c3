from django.urls import path

from files import views

app_name = "files"

urlpatterns = [
    path("files/", views.file_list, name="list"),
    path("files/<str:file_id>/download/", views.download, name="download"),
    path("files/<str:file_id>/delete/", views.delete, name="delete"),
]
