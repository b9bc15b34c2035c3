"""Customer files: the API and the page, the plan's quota (under real concurrency), type and
size checks, ownership, soft delete and the purge."""

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.models import StoredFile
from accounts.services import delete_account
from billing.factories import SubscriptionFactory
from catalog.factories import PlanFactory
from core.models import AuditLog
from files import services
from files.models import CustomerFile
from files.tasks import purge_deleted_files

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 92  # 100 bytes that start like a PNG


def _on_plan(user, quota):
    SubscriptionFactory(user=user, status="ACTIVE", plan=PlanFactory(storage_quota_bytes=quota))


def _upload(api, name="notes.txt", content=b"hello world\n", content_type="text/plain"):
    return api.post(
        "/api/v1/files/",
        {"file": SimpleUploadedFile(name, content, content_type)},
        format="multipart",
    )


@pytest.mark.django_db
def test_upload_list_download_delete_through_the_api(customer_api, customer):
    _on_plan(customer, 10_000)
    created = _upload(customer_api)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "notes.txt" and body["size_bytes"] == 12
    assert body["content_type"] == "text/plain"

    listing = customer_api.get("/api/v1/files/").json()
    assert [row["id"] for row in listing["results"]] == [body["id"]]
    assert listing["usage"] == {"used_bytes": 12, "quota_bytes": 10_000, "available_bytes": 9_988}

    download = customer_api.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello world\n"
    assert 'filename="notes.txt"' in download["Content-Disposition"]

    assert customer_api.delete(f"/api/v1/files/{body['id']}/").status_code == 204
    assert customer_api.get("/api/v1/files/").json()["usage"]["used_bytes"] == 0
    assert customer_api.get(body["download_url"]).status_code == 404
    stored = StoredFile.all_objects.get(pk=body["id"])
    assert stored.deleted_at is not None  # soft: kept until the purge
    actions = list(
        AuditLog.objects.filter(
            resource_type="accounts.StoredFile", resource_id=str(body["id"])
        ).values_list("action", flat=True)
    )
    assert sorted(actions) == ["CREATE", "DELETE"]


@pytest.mark.django_db
def test_over_quota_is_413_with_the_numbers_and_leaves_nothing(
    customer_api, customer, settings, tmp_path
):
    settings.FILES_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    _on_plan(customer, 150)
    assert _upload(customer_api, "a.png", PNG, "image/png").status_code == 201
    refused = _upload(customer_api, "b.png", PNG, "image/png")
    assert refused.status_code == 413
    body = refused.json()
    assert body["code"] == "quota_exceeded"
    assert (
        body["used_bytes"],
        body["quota_bytes"],
        body["size_bytes"],
        body["available_bytes"],
    ) == (100, 150, 100, 50)
    assert CustomerFile.objects.count() == 1 and StoredFile.objects.count() == 1
    # The refused upload's blob was removed again.
    assert [path.name for path in tmp_path.rglob("*.png")] == ["a.png"]


@pytest.mark.django_db
def test_without_a_plan_the_default_quota_applies_and_an_empty_quota_is_unlimited(
    customer_api, customer, settings
):
    settings.FILES_DEFAULT_QUOTA_BYTES = 10
    refused = _upload(customer_api)
    assert refused.status_code == 413 and refused.json()["quota_bytes"] == 10
    _on_plan(customer, None)
    assert _upload(customer_api).status_code == 201
    assert customer_api.get("/api/v1/files/").json()["usage"]["quota_bytes"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, content, content_type, status, code",
    [
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream", 400, "file_type_not_allowed"),
        ("photo.png", b"MZ\x90\x00 not a png", "image/png", 400, "file_type_not_allowed"),
        ("page.html", b"<html></html>", "text/html", 400, "file_type_not_allowed"),
        ("notes.txt", b"\xff\xfe\x00b\x00i\x00n", "text/plain", 400, "file_type_not_allowed"),
        ("empty.txt", b"", "text/plain", 400, "file_empty"),
        ("big.txt", b"x" * 2049, "text/plain", 413, "file_too_large"),
    ],
)
def test_type_and_size_are_checked(
    customer_api, customer, settings, name, content, content_type, status, code
):
    settings.FILES_MAX_UPLOAD_BYTES = 2048
    _on_plan(customer, None)
    response = _upload(customer_api, name, content, content_type)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["fields"]["file"]
    assert not CustomerFile.objects.exists()


@pytest.mark.django_db
def test_no_file_is_a_clear_400(customer_api):
    response = customer_api.post("/api/v1/files/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "file_required"


@pytest.mark.django_db
def test_only_the_owner_reaches_a_file(customer_api, other_customer):
    theirs = services.upload(
        user=other_customer, upload=SimpleUploadedFile("secret.txt", b"theirs", "text/plain")
    )
    for url in (f"/api/v1/files/{theirs.pk}/", f"/api/v1/files/{theirs.pk}/download/"):
        assert customer_api.get(url).status_code == 404
    assert customer_api.delete(f"/api/v1/files/{theirs.pk}/").status_code == 404
    assert customer_api.get("/api/v1/files/").json()["results"] == []
    assert CustomerFile.objects.alive().filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_the_storage_backend_is_a_setting(customer_api, customer, settings, tmp_path):
    settings.FILES_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    _on_plan(customer, None)
    body = _upload(customer_api).json()
    stored = StoredFile.objects.get(pk=body["id"])
    assert (tmp_path / stored.path).read_bytes() == b"hello world\n"
    assert stored.provider == "local"


@pytest.mark.django_db
def test_deleted_files_are_purged_after_the_retention_period(customer, settings):
    settings.FILES_RETENTION_DAYS = 30
    item = services.upload(
        user=customer, upload=SimpleUploadedFile("old.txt", b"old", "text/plain")
    )
    keep = services.upload(
        user=customer, upload=SimpleUploadedFile("keep.txt", b"keep", "text/plain")
    )
    path = item.stored.path
    services.delete(user=customer, item=item)
    assert services.purge() == 0  # within the retention period
    assert services.storage().exists(path)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert purge_deleted_files.delay().get() == 1
    assert not services.storage().exists(path)
    assert not StoredFile.all_objects.filter(pk=item.pk).exists()
    assert list(CustomerFile.objects.values_list("pk", flat=True)) == [keep.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_never_pass_the_quota(django_db_blocker):
    """Eight uploads of 300 bytes at once against a 1,000-byte quota, each through the API
    on its own database connection: exactly three fit, the others are told why."""
    customer = UserFactory()
    _on_plan(customer, 1000)
    start = threading.Barrier(8)
    answers = []

    def one(index):
        try:
            api = APIClient()
            api.force_authenticate(customer)
            start.wait()
            answers.append(_upload(api, f"part{index}.txt", b"y" * 300))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    codes = sorted(response.status_code for response in answers)
    assert codes == [201] * 3 + [413] * 5
    assert all(
        response.json()["code"] == "quota_exceeded"
        for response in answers
        if response.status_code == 413
    )
    assert services.used_bytes(customer) == 900
    assert StoredFile.objects.filter(owner=customer).count() == 3


# --- the page ----------------------------------------------------------------------------------


def _form_action(html: str) -> str:
    form = re.search(r'<form method="post" enctype="multipart/form-data" action="([^"]+)"', html)
    return form.group(1)


@pytest.mark.django_db
def test_the_page_uploads_lists_and_deletes_through_its_own_forms(customer_client, customer):
    _on_plan(customer, 1000)
    page = customer_client.get("/files/")
    assert page.status_code == 200 and "You have no files yet" in page.content.decode()
    action = _form_action(page.content.decode())
    done = customer_client.post(
        action, {"file": SimpleUploadedFile("a.png", PNG, "image/png")}, follow=True
    )
    html = done.content.decode()
    assert "a.png was uploaded" in html and "100\xa0bytes" in html
    item = CustomerFile.objects.get()
    confirm = customer_client.get(f"/files/{item.pk}/delete/").content.decode()
    delete_action = re.search(r'<form method="post" action="([^"]+/delete/)"', confirm).group(1)
    gone = customer_client.post(delete_action, follow=True).content.decode()
    assert "a.png was deleted" in gone and "You have no files yet" in gone


@pytest.mark.django_db
def test_the_page_says_over_quota_next_to_the_field(customer_client, customer):
    _on_plan(customer, 50)
    action = _form_action(customer_client.get("/files/").content.decode())
    refused = customer_client.post(action, {"file": SimpleUploadedFile("a.png", PNG, "image/png")})
    assert refused.status_code == 413
    html = refused.content.decode()
    field = re.search(r'<div class="errorlist" role="alert">(.*?)</div>', html, re.S).group(1)
    assert "a.png is 100 bytes" in field and "50 bytes" in field
    assert not CustomerFile.objects.exists()


@pytest.mark.django_db
def test_deleting_the_account_deletes_its_files_at_once(customer_client, customer):
    kept = services.upload(
        user=customer, upload=SimpleUploadedFile("cv.pdf", b"%PDF-1.4 cv", "application/pdf")
    )
    binned = services.upload(
        user=customer, upload=SimpleUploadedFile("old.txt", b"old", "text/plain")
    )
    services.delete(user=customer, item=binned)
    page = customer_client.get("/account/delete/").content.decode()
    assert "Your 1 file (11 bytes) will be deleted for good." in page
    paths = [kept.stored.path, binned.stored.path]
    delete_account(user=customer, actor=customer)
    assert not any(services.storage().exists(path) for path in paths)
    assert not CustomerFile.objects.exists()
    assert not StoredFile.all_objects.filter(owner=customer).exists()
