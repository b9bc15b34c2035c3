"""What a user may change about themselves, and the rules each value must follow.

Used by the profile page, the ``/api/v1/me/`` endpoint and the staff console, always through
``accounts.services.update_profile``. Role, status, e-mail and its verification are not here:
they change only through their own services.
"""

import datetime
import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

NAME_FIELDS = ("first_name", "last_name", "display_name")
PROFILE_FIELDS = (
    *NAME_FIELDS,
    "avatar_url",
    "phone",
    "date_of_birth",
    "gender",
    "timezone",
    "language",
    "billing_address",
    "tax_id",
)
ADDRESS_KEYS = ("line1", "line2", "city", "region", "postal_code", "country")
GENDER_CHOICES = [
    ("", "Prefer not to say"),
    ("female", "Female"),
    ("male", "Male"),
    ("non_binary", "Non-binary"),
    ("other", "Other"),
]
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,24}$")
TAX_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .-]{2,31}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
OLDEST_BIRTH_YEAR = 1900


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def language_choices() -> list[tuple[str, str]]:
    return list(settings.LANGUAGES)


def _clean_text(name: str, value, max_length: int) -> str:
    value = "" if value is None else str(value).strip()
    if len(value) > max_length:
        raise ValidationError(f"At most {max_length} characters.", code="max_length")
    return value


def _clean_date_of_birth(value):
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError("Enter a date as YYYY-MM-DD.", code="invalid_date") from exc
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise ValidationError("Enter a date as YYYY-MM-DD.", code="invalid_date")
    if value > datetime.date.today():
        raise ValidationError("The date of birth cannot be in the future.", code="future_date")
    if value.year < OLDEST_BIRTH_YEAR:
        raise ValidationError(f"Enter a date after {OLDEST_BIRTH_YEAR}.", code="invalid_date")
    return value


def clean_address(value, *, drop_unknown: bool = False) -> dict | None:
    """A billing address as the profile keeps it: only the ADDRESS_KEYS, trimmed, at most 200
    characters each, the country an upper-case two-letter code; None when nothing is left.

    Other keys are refused (ValidationError), or with ``drop_unknown`` silently left out:
    an order copies the address fields of whatever a client sends and nothing else.
    """
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict):
        raise ValidationError("The billing address must be an object.", code="invalid")
    unknown = set(value) - set(ADDRESS_KEYS)
    if unknown and not drop_unknown:
        raise ValidationError(
            f"Unknown address fields: {', '.join(sorted(unknown))}.", code="unknown_field"
        )
    address = {}
    for key in ADDRESS_KEYS:
        text = _clean_text(key, value.get(key), 200)
        if text:
            address[key] = text
    if "country" in address:
        address["country"] = address["country"].upper()
        if not COUNTRY_RE.match(address["country"]):
            raise ValidationError(
                "The country must be a two-letter ISO code, like GB or US.", code="invalid_country"
            )
    return address or None


def _clean_one(name: str, value):
    if name in NAME_FIELDS:
        return _clean_text(name, value, 150)
    if name == "avatar_url":
        value = _clean_text(name, value, 500)
        if value:
            URLValidator(schemes=["https", "http"], message="Enter a valid http(s) URL.")(value)
        return value
    if name == "phone":
        value = _clean_text(name, value, 32)
        if value and not PHONE_RE.match(value):
            raise ValidationError(
                "Enter a phone number like +44 20 7946 0000.", code="invalid_phone"
            )
        return value or None
    if name == "date_of_birth":
        return _clean_date_of_birth(value)
    if name == "gender":
        value = _clean_text(name, value, 32)
        if value not in dict(GENDER_CHOICES):
            raise ValidationError("Choose one of the listed options.", code="invalid_choice")
        return value
    if name == "timezone":
        value = _clean_text(name, value, 64) or "UTC"
        if value not in zoneinfo.available_timezones():
            raise ValidationError(
                "Choose a time zone such as Europe/London.", code="invalid_timezone"
            )
        return value
    if name == "language":
        value = _clean_text(name, value, 16) or "en"
        if value not in dict(settings.LANGUAGES):
            raise ValidationError(
                "Choose a supported language code, such as en.", code="invalid_language"
            )
        return value
    if name == "billing_address":
        return clean_address(value)
    if name == "tax_id":
        value = _clean_text(name, value, 32)
        if value and not TAX_ID_RE.match(value):
            raise ValidationError(
                "A tax id has 3 to 32 letters, digits, spaces, dots or dashes.",
                code="invalid_tax_id",
            )
        return value or None
    raise ValidationError(f"{name} cannot be changed here.", code="read_only")


def clean_profile(data: dict) -> dict:
    """Validate the given profile values; return them cleaned or raise ValidationError(dict)."""
    cleaned, errors = {}, {}
    for name, value in data.items():
        if name not in PROFILE_FIELDS:
            errors[name] = [ValidationError("This field cannot be changed.", code="read_only")]
            continue
        try:
            cleaned[name] = _clean_one(name, value)
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return cleaned


def profile_values(user) -> dict:
    return {name: getattr(user, name) for name in PROFILE_FIELDS}
