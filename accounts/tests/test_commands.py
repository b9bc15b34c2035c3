"""Management commands: create_admin and rotate_encryption_keys."""

import io

import pytest
from allauth.account.models import EmailAddress
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from accounts import services
from accounts.factories import UserFactory
from accounts.models import Role, Status, User
from accounts.tests.helpers import logged_in_user_id, page_login
from core.fields import _fernet

pytestmark = pytest.mark.django_db
STRONG = "admin-passphrase-long-enough"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_admin_with_password_creates_a_verified_admin_who_can_log_in(client):
    output = run("create_admin", "--email", "Boss@Example.com", "--password", STRONG)

    user = User.objects.get(email="boss@example.com")
    assert user.role == Role.ADMIN and user.status == Status.ACTIVE and user.email_verified
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
    assert "boss@example.com" in output and "/admin/" in output
    assert STRONG not in output
    assert page_login(client, "boss@example.com", STRONG).status_code == 302
    assert logged_in_user_id(client) == str(user.pk)
    assert client.get("/admin/").status_code == 200


def test_create_admin_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", STRONG)

    run("create_admin", "--email", "env@example.com")

    assert User.objects.get(email="env@example.com").check_password(STRONG)


def test_create_admin_generates_and_prints_a_password_when_none_is_given(monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)

    output = run("create_admin", "--email", "gen@example.com")

    line = next(x for x in output.splitlines() if x.startswith("Generated password: "))
    generated = line.removeprefix("Generated password: ")
    assert len(generated) >= 16
    assert User.objects.get(email="gen@example.com").check_password(generated)


def test_create_admin_is_idempotent_and_repairs_an_existing_user(monkeypatch, password):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    user = UserFactory(email="exist@example.com", email_verified=False)

    services.change_status(user=user, status=Status.SUSPENDED, actor=None)

    output = run("create_admin", "--email", "exist@example.com")
    run("create_admin", "--email", "exist@example.com")

    assert User.objects.filter(email="exist@example.com").count() == 1
    user.refresh_from_db()
    assert user.role == Role.ADMIN and user.status == Status.ACTIVE and user.is_active
    assert user.email_verified
    assert user.check_password(password)  # not reset when no password was given
    assert "unchanged" in output

    run("create_admin", "--email", "exist@example.com", "--password", STRONG)
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_create_admin_refuses_a_weak_password_and_a_bad_email():
    with pytest.raises(CommandError):
        run("create_admin", "--email", "weak@example.com", "--password", "123")
    with pytest.raises(CommandError):
        run("create_admin", "--email", "not-an-email", "--password", STRONG)
    assert not User.objects.exists()


def _raw_phone(user_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, tax_id FROM accounts_user WHERE id = %s", [user_id])
        return cursor.fetchone()


def test_rotate_encryption_keys_re_encrypts_with_the_newest_key(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    user = UserFactory(phone="+44 7700 900123", tax_id="GB123")
    other = UserFactory(phone=None, tax_id=None)
    before = _raw_phone(user.pk)

    try:
        with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
            _fernet.cache_clear()
            output = run("rotate_encryption_keys")  # with its progress bar, on stderr
            run("rotate_encryption_keys", "--no-progress")  # twice is harmless
        after = _raw_phone(user.pk)
        assert after != before
        assert Fernet(new_key.encode()).decrypt(after[0].encode()) == b"+44 7700 900123"
        assert Fernet(new_key.encode()).decrypt(after[1].encode()) == b"GB123"
        assert _raw_phone(other.pk) == (None, None)
        assert "accounts.User" in output

        # With only the new key left, the data still reads.
        with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
            _fernet.cache_clear()
            fresh = User.objects.get(pk=user.pk)
            assert fresh.phone == "+44 7700 900123" and fresh.tax_id == "GB123"
    finally:
        _fernet.cache_clear()
