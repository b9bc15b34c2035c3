"""Customer files: upload under the plan's storage quota, list, download, soft delete, purge.

Files are kept through Django's storage API (``FILES_STORAGE``: the local disk by default,
any django-storages backend by setting). The quota check and the row that uses the space
are one transaction holding a per-customer advisory lock, so concurrent uploads cannot
together go past the quota: the second waits for the first and sees its bytes."""

from __future__ import annotations

import functools
import json
import mimetypes
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.models import StoredFile, User
from billing.selectors import live_subscriptions_granting_plan
from core import audit
from core.models import AuditAction
from files import errors
from files.models import CustomerFile, CustomerFileQuerySet

_LOCK_CLASS = 72_002  # pg advisory lock namespace: one quota decision per customer at a time
PURGE_BATCH = 500

# Type -> (extensions, a check of the first bytes). Both the name's type and the content must
# agree; text types must be UTF-8 without NUL bytes.
ALLOWED: dict[str, Callable[[bytes], bool] | None] = {
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "application/zip": lambda head: head.startswith(b"PK\x03\x04"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": lambda head: (
        head.startswith(b"PK\x03\x04")
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": lambda head: (
        head.startswith(b"PK\x03\x04")
    ),
    "text/plain": None,
    "text/csv": None,
    "application/json": None,
}
KINDS = "images (PNG, JPEG, GIF, WebP), PDF, ZIP, Word and Excel documents, text, CSV and JSON"


@functools.lru_cache(maxsize=4)
def _storage(config: str) -> Storage:
    return storages.create_storage(json.loads(config))


def storage() -> Storage:
    """The storage customer files live in (``FILES_STORAGE``)."""
    return _storage(json.dumps(settings.FILES_STORAGE, sort_keys=True, default=str))


def _provider() -> str:
    backend = str(settings.FILES_STORAGE["BACKEND"]).lower()
    return StoredFile.Provider.S3 if "s3" in backend else StoredFile.Provider.LOCAL


def quota_for(user: User) -> int | None:
    """The customer's storage quota in bytes (None: unlimited): the largest of the plans
    they have access to now, or ``FILES_DEFAULT_QUOTA_BYTES`` without one."""
    quotas = [sub.plan.storage_quota_bytes for sub in live_subscriptions_granting_plan(user=user)]
    if not quotas:
        default: int | None = settings.FILES_DEFAULT_QUOTA_BYTES
        return default
    limited = [quota for quota in quotas if quota is not None]
    if len(limited) < len(quotas):
        return None  # one plan without a quota: unlimited
    return max(limited)


def used_bytes(user: User) -> int:
    total = CustomerFile.objects.alive().filter(owner=user).aggregate(total=Sum("size_bytes"))
    return int(total["total"] or 0)


def usage(user: User) -> dict[str, int | None]:
    quota, used = quota_for(user), used_bytes(user)
    return {
        "used_bytes": used,
        "quota_bytes": quota,
        "available_bytes": None if quota is None else max(quota - used, 0),
    }


def _type_of(upload: UploadedFile) -> str:
    name = upload.name or ""
    by_name = (mimetypes.guess_type(name)[0] or "").lower()
    if by_name not in ALLOWED:
        raise errors.FileRefused(f"{name or 'This file'}: only {KINDS} can be uploaded.")
    claimed = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if claimed and claimed not in ("application/octet-stream", by_name) and claimed not in ALLOWED:
        raise errors.FileRefused(f"{name}: only {KINDS} can be uploaded.")
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    check = ALLOWED[by_name]
    if check is None:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 3:
                raise errors.FileRefused(f"{name} is not UTF-8 text.") from None
            text = head[: exc.start].decode("utf-8")
        if "\x00" in text:
            raise errors.FileRefused(f"{name} is not a text file.")
    elif not check(head):
        raise errors.FileRefused(
            f"{name}'s content is not a {by_name.split('/')[-1].upper()} "
            "file, whatever its name says."
        )
    return by_name


def validate(upload: UploadedFile | None) -> str:
    """Refuse an empty, too large or unaccepted file; returns its content type."""
    if upload is None:
        raise errors.FileRefused("Choose a file to upload.", code="file_required")
    limit = settings.FILES_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise errors.FileTooLarge(
            f"{upload.name} is {upload.size:,} bytes; the limit is {limit:,} bytes per file.",
            size_bytes=upload.size,
            limit_bytes=limit,
        )
    if upload.size == 0:
        raise errors.FileRefused(f"{upload.name} is empty.", code="file_empty")
    return _type_of(upload)


def upload(*, user: User, upload: UploadedFile) -> CustomerFile:
    """Store ``upload`` for ``user`` if it is accepted and fits in their quota. The blob is
    written first, outside the transaction; a refusal deletes it again, so a refused upload
    leaves nothing behind."""
    content_type = validate(upload)
    size = upload.size
    assert size is not None  # validate() has compared it with the limit
    name = get_valid_filename(upload.name or "file")[:200] or "file"
    files = storage()
    path = files.save(f"files/{user.pk}/{uuid.uuid4().hex}/{name}", upload)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, user.pk])
            quota, used = quota_for(user), used_bytes(user)
            if quota is not None and used + size > quota:
                raise errors.QuotaExceeded(
                    f"{name} is {size:,} bytes; you use {used:,} of your {quota:,} bytes, so "
                    f"{max(quota - used, 0):,} bytes are left. Delete files or choose a "
                    "larger plan.",
                    used_bytes=used,
                    quota_bytes=quota,
                    size_bytes=size,
                    available_bytes=max(quota - used, 0),
                )
            stored = StoredFile.objects.create(
                owner=user,
                provider=_provider(),
                path=path,
                name=name,
                content_type=content_type,
                size_bytes=size,
            )
            item = CustomerFile.objects.create(stored=stored, owner=user, size_bytes=size)
            audit.record(
                actor=user,
                action=AuditAction.CREATE,
                resource=stored,
                new={"name": name, "size_bytes": size, "content_type": content_type},
            )
    except BaseException:
        files.delete(path)
        raise
    return item


def files_of(user: User) -> CustomerFileQuerySet:
    return CustomerFile.objects.alive().filter(owner=user).select_related("stored")


def own_file(*, user: User, file_id: object) -> CustomerFile | None:
    """The customer's own live file, or None (another customer's file is never found)."""
    if not str(file_id).isdigit():
        return None
    return files_of(user).filter(pk=int(str(file_id))).first()


def open_file(item: CustomerFile) -> IO[bytes]:
    return storage().open(item.stored.path, "rb")


def delete(*, user: User, item: CustomerFile) -> None:
    """Soft delete: the file disappears and stops counting now; the purge removes it after
    ``FILES_RETENTION_DAYS``."""
    now = timezone.now()
    with transaction.atomic():
        changed = CustomerFile.objects.filter(
            pk=item.pk, owner=user, deleted_at__isnull=True
        ).update(deleted_at=now, updated_at=now)
        if not changed:
            return
        StoredFile.objects.filter(pk=item.pk).update(deleted_at=now, updated_at=now)
        audit.record(
            actor=user,
            action=AuditAction.DELETE,
            resource=item.stored,
            old={"name": item.stored.name, "size_bytes": item.size_bytes},
        )


def purge(*, now: datetime | None = None) -> int:
    """Remove files deleted more than the retention period ago: the blob, then the rows.
    Returns how many were purged (a bounded batch per call)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FILES_RETENTION_DAYS)
    items = list(
        CustomerFile.objects.filter(deleted_at__lt=cutoff)
        .select_related("stored")
        .order_by("deleted_at")[:PURGE_BATCH]
    )
    files = storage()
    for item in items:
        if item.stored.path:
            files.delete(item.stored.path)
        with transaction.atomic():
            stored = item.stored
            item.delete()
            stored.delete()
    return len(items)


def deletion_preview(user: User) -> list[str]:
    count = files_of(user).count()
    if not count:
        return []
    return [
        f"Your {count} file{'s' if count != 1 else ''} "
        f"({used_bytes(user):,} bytes) will be deleted for good."
    ]


def settle_for_account_deletion(user: User) -> None:
    """Deleting an account deletes its files at once (blobs and rows), deleted or not: the
    retention period is for a customer who may change their mind, not for a closed account.
    Safe to run again."""
    files = storage()
    for item in CustomerFile.objects.filter(owner=user).select_related("stored"):
        if item.stored.path:
            files.delete(item.stored.path)
        with transaction.atomic():
            stored = item.stored
            item.delete()
            stored.delete()
            audit.record(
                actor=None,
                action=AuditAction.DELETE,
                resource_type="accounts.StoredFile",
                resource_id=stored.pk,
                reason="account_deleted",
            )
