"""The Files page (/files/): upload within the quota, list, download, delete."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.api import DomainError
from files import services
from files.forms import UploadForm

PAGE_SIZE = 20


def _own(request, file_id):
    item = services.own_file(user=request.user, file_id=file_id)
    if item is None:
        raise Http404("No such file.")
    return item


@login_required
@require_http_methods(["GET", "POST"])
def file_list(request):
    form = UploadForm()
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                item = services.upload(user=request.user, upload=form.cleaned_data["file"])
            except DomainError as exc:
                form.add_error("file", exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"{item.stored.name} was uploaded.")
                return redirect("files:list")
        else:
            status = 400
    page = Paginator(services.files_of(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    usage = services.usage(request.user)
    percent = None
    if usage["quota_bytes"]:
        percent = min(100, round(100 * usage["used_bytes"] / usage["quota_bytes"]))
    return render(
        request,
        "files/list.html",
        {
            "form": form,
            "page": page,
            "usage": usage,
            "percent": percent,
        },
        status=status,
    )


@login_required
def download(request, file_id):
    item = _own(request, file_id)
    return FileResponse(
        services.open_file(item),
        as_attachment=True,
        filename=item.stored.name,
        content_type=item.stored.content_type or None,
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, file_id):
    item = _own(request, file_id)
    if request.method == "GET":
        return render(
            request,
            "files/delete.html",
            {"item": item, "retention_days": settings.FILES_RETENTION_DAYS},
        )
    services.delete(user=request.user, item=item)
    messages.success(request, f"{item.stored.name} was deleted.")
    return redirect("files:list")
