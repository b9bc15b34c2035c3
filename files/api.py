"""/api/v1/files/: a customer's own files (list, upload, one, download, delete)."""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import _errors
from core.api import NotFound, Pagination
from files import services
from files.models import CustomerFile


class FileOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="stored.name")
    content_type = serializers.CharField(source="stored.content_type")
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, obj) -> str:
        return reverse("api:files-download", args=[obj.pk])


class FileIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


USAGE = inline_serializer(
    "StorageUsage",
    {
        "used_bytes": serializers.IntegerField(),
        "quota_bytes": serializers.IntegerField(allow_null=True, help_text="null: unlimited"),
        "available_bytes": serializers.IntegerField(allow_null=True),
    },
)
FILE_PAGE = inline_serializer(
    "FilePage",
    {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": FileOut(many=True),
        "usage": USAGE,
    },
)
REFUSED = {
    413: OpenApiResponse(
        description=(
            "`quota_exceeded` (with `used_bytes`, `quota_bytes`, `size_bytes`, "
            "`available_bytes`) or "
            "`file_too_large` (with `size_bytes`, `limit_bytes`)."
        )
    )
}


def _own(request, pk) -> CustomerFile:
    item = services.own_file(user=request.user, file_id=pk)
    if item is None:
        raise NotFound("No such file.")
    return item


class FileListCreate(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["files"],
        operation_id="files_list",
        responses={200: FILE_PAGE},
        summary="My files, newest first, with my storage usage and quota",
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(services.files_of(request.user), request, view=self)
        response = paginator.get_paginated_response(FileOut(page, many=True).data)
        response.data["usage"] = services.usage(request.user)
        return response

    @extend_schema(
        tags=["files"],
        request={"multipart/form-data": FileIn},
        responses={
            201: FileOut,
            **REFUSED,
            **_errors(
                400,
                401,
                _400="`file_required`, `file_empty`, `file_type_not_allowed` or `invalid`.",
            ),
        },
        summary="Upload a file (multipart, field `file`) within my quota",
    )
    def post(self, request):
        data = FileIn(data=request.data)
        if not data.is_valid():
            if "file" in data.errors:
                raise services.errors.FileRefused("Choose a file to upload.", code="file_required")
            data.is_valid(raise_exception=True)
        item = services.upload(user=request.user, upload=data.validated_data["file"])
        return Response(FileOut(item).data, status=status.HTTP_201_CREATED)


class FileDetail(APIView):
    @extend_schema(
        tags=["files"], responses={200: FileOut, **_errors(401, 404)}, summary="One of my files"
    )
    def get(self, request, pk):
        return Response(FileOut(_own(request, pk)).data)

    @extend_schema(
        tags=["files"],
        responses={204: None, **_errors(401, 404)},
        summary="Delete one of my files (it stops counting against my quota now)",
    )
    def delete(self, request, pk):
        services.delete(user=request.user, item=_own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileDownload(APIView):
    @extend_schema(
        tags=["files"],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The file's bytes."),
            **_errors(401, 404),
        },
        summary="Download one of my files",
    )
    def get(self, request, pk):
        item = _own(request, pk)
        return FileResponse(
            services.open_file(item),
            as_attachment=True,
            filename=item.stored.name,
            content_type=item.stored.content_type or None,
        )
