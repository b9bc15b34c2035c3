"""Ticket attachments: checked against a size limit and a content-type allow-list, then kept
in Django's default storage and recorded as ``accounts.StoredFile`` rows."""

import mimetypes
import uuid

from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename

from accounts.models import StoredFile
from support.errors import AttachmentRefused

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_MESSAGE = 5
ALLOWED_CONTENT_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
    }
)


def _type_from_name(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or ""


def validate(files) -> None:
    """Refuse the whole batch if any file is too large, of a type we do not accept, or if
    there are too many. Nothing is stored before every file passes."""
    files = list(files or [])
    if len(files) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise AttachmentRefused(
            f"At most {MAX_ATTACHMENTS_PER_MESSAGE} files can be attached to one message.",
            code="too_many_attachments",
        )
    for upload in files:
        name = upload.name or "file"
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise AttachmentRefused(
                f"{name} is larger than the 10 MB limit.", code="attachment_too_large"
            )
        if upload.size == 0:
            raise AttachmentRefused(f"{name} is empty.", code="attachment_empty")
        # Both the type the browser claims and the type the file name implies must be on the
        # list: a renamed executable claiming to be a PDF is refused either way.
        claimed = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        by_name = _type_from_name(name)
        if by_name not in ALLOWED_CONTENT_TYPES or (
            claimed
            and claimed != "application/octet-stream"
            and claimed not in ALLOWED_CONTENT_TYPES
        ):
            raise AttachmentRefused(
                f"{name}: only images (PNG, JPEG, GIF, WebP), PDF, plain text and CSV files "
                "can be attached.",
                code="attachment_type_not_allowed",
            )


def store(*, owner, files) -> list[StoredFile]:
    """Save already-validated uploads; returns their StoredFile rows (call inside the
    transaction that links them, so a rollback leaves no row pointing at nothing)."""
    stored = []
    for upload in files or []:
        safe_name = get_valid_filename(upload.name or "file")[:200] or "file"
        path = default_storage.save(f"support/{owner.pk}/{uuid.uuid4().hex}/{safe_name}", upload)
        stored.append(
            StoredFile.objects.create(
                owner=owner,
                provider=StoredFile.Provider.LOCAL,
                path=path,
                name=safe_name,
                content_type=_type_from_name(safe_name),
                size_bytes=upload.size,
            )
        )
    return stored
