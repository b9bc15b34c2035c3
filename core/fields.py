"""Model fields that keep personal data encrypted at rest (Fernet, with key rotation).

``FIELD_ENCRYPTION_KEYS`` lists Fernet keys, newest first. Values are always encrypted with the
newest key and decrypted with whichever key works, so a new key can be put in front and old
rows re-encrypted later with ``manage.py rotate_encryption_keys``. Encrypted columns cannot be
searched or filtered on, except with ``isnull``.
"""

from __future__ import annotations

import datetime
import functools
import json
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.expressions import Expression


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: personal data cannot be saved")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid key: {exc}") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An encrypted value cannot be read with any key in FIELD_ENCRYPTION_KEYS"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the newest key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedField(models.TextField):
    """Stores ``to_text(value)`` encrypted; subclasses convert their Python type to text."""

    def to_text(self, value: Any) -> str:
        return str(value)

    def from_text(self, text: str) -> Any:
        return text

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None if self.null else ""
        return encrypt(self.to_text(value))

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Any:
        if value is None or value == "":
            return value if value is not None else None
        return self.from_text(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        return self.from_text(value) if type(self) is not EncryptedTextField else value


class EncryptedTextField(EncryptedField):
    pass


class EncryptedDateField(EncryptedField):
    # The Python types django-stubs gives the model attribute. The stubs fix them to str on
    # TextField, whose column this field reuses for the ciphertext; the attribute is a date.
    if TYPE_CHECKING:
        _pyi_private_set_type: datetime.date | str  # type: ignore[assignment]
        _pyi_private_get_type: datetime.date  # type: ignore[assignment]

    def to_text(self, value: datetime.date | str) -> str:
        if isinstance(value, str):
            value = datetime.date.fromisoformat(value)
        return value.isoformat()

    def from_text(self, text: str) -> datetime.date:
        return datetime.date.fromisoformat(text)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            return datetime.date.fromisoformat(value)
        return value

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field:
        """A date input; ``form_class`` (a form's ``field_classes``) replaces it when given."""
        return (form_class or forms.DateField)(required=not self.blank, **kwargs)


class EncryptedJSONField(EncryptedField):
    if TYPE_CHECKING:  # the Python types django-stubs gives the model attribute: any JSON
        _pyi_private_set_type: Any
        _pyi_private_get_type: Any

    def to_text(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    def from_text(self, text: str) -> Any:
        return json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(self.to_text(value))
