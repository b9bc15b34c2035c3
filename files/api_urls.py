from django.urls import path

from files import api

urlpatterns = [
    path("files/", api.FileListCreate.as_view(), name="files"),
    path("files/<str:pk>/", api.FileDetail.as_view(), name="files-detail"),
    path("files/<str:pk>/download/", api.FileDownload.as_view(), name="files-download"),
]
