from rest_framework import status

from core.api import DomainError


class FileError(DomainError):
    """A refusal of the uploaded file: the message is also the ``file`` field's error."""

    def __init__(self, message: str | None = None, **extra):
        message = message or self.default_message
        super().__init__(message, fields={"file": [message]}, **extra)


class QuotaExceeded(FileError):
    code = "quota_exceeded"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "This file does not fit in your storage quota."


class FileTooLarge(FileError):
    code = "file_too_large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "This file is larger than the upload limit."


class FileRefused(FileError):
    code = "file_type_not_allowed"
    default_message = "This type of file cannot be uploaded."
