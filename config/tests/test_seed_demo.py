import io
import json

import pytest
from django.core.management import call_command

from accounts.models import Role, User
from billing.models import Discount, Order, OrderStatus
from config.management.commands import seed_demo
from credits.selectors import balance_of

PASSWORDS = [
    "--admin-password",
    "admin-Demo-pass-1",
    "--customer-password",
    "customer-Demo-pass-1",
    "--support-password",
    "support-Demo-pass-1",
    "--finance-password",
    "finance-Demo-pass-1",
]


@pytest.fixture
def credentials_file(tmp_path, monkeypatch):

    path = tmp_path / "demo-credentials.json"
    monkeypatch.setattr(seed_demo, "CREDENTIALS_FILE", path)
    monkeypatch.setattr(seed_demo, "DATA_DIR", tmp_path)
    return path


def _run(*extra) -> str:
    out = io.StringIO()
    call_command("seed_demo", *PASSWORDS, *extra, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_staff_and_customers_who_can_log_in(client, credentials_file):
    output = _run()

    roles = dict(User.objects.filter(email__endswith="@demo.example").values_list("email", "role"))
    assert roles["admin@demo.example"] == Role.ADMIN
    assert roles["support@demo.example"] == Role.SUPPORT
    assert roles["finance@demo.example"] == Role.FINANCE
    assert roles["alice@demo.example"] == roles["bob@demo.example"] == Role.CUSTOMER
    assert "alice@demo.example" in output and "customer-Demo-pass-1" in output
    assert _log_in(client, "alice@demo.example", "customer-Demo-pass-1")
    assert client.get("/admin/").status_code == 302  # a customer is sent away from admin
    client.logout()
    assert _log_in(client, "admin@demo.example", "admin-Demo-pass-1")
    assert client.get("/admin/").status_code == 200
    client.logout()
    finance_line = [line for line in output.splitlines() if "finance@demo" in line][0]
    assert "FINANCE" in finance_line and "finance-Demo-pass-1" in finance_line
    assert _log_in(client, "finance@demo.example", "finance-Demo-pass-1")
    assert client.get("/admin/").status_code == 200


def _log_in(client, email, password) -> bool:
    response = client.post("/accounts/login/", {"login": email, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.django_db
def test_seed_demo_buys_through_the_real_services_and_is_idempotent(credentials_file):
    _run()
    first = {
        "users": User.objects.count(),
        "orders": Order.objects.count(),
        "discounts": Discount.objects.count(),
    }
    _run()

    assert {
        "users": User.objects.count(),
        "orders": Order.objects.count(),
        "discounts": Discount.objects.count(),
    } == first
    alice = User.objects.get(email="alice@demo.example")
    order = Order.objects.get(user=alice)
    assert order.status == OrderStatus.COMPLETED
    assert order.payments.count() == 1
    # Signup bonus plus the credit pack she bought: both through the credits services.
    assert balance_of(user=alice) > 100
    bob_order = Order.objects.get(user__email="bob@demo.example")
    assert bob_order.status == OrderStatus.PENDING
    assert set(Discount.objects.values_list("code", flat=True)) >= {"WELCOME10", "SAVE5"}


@pytest.mark.django_db
def test_generated_passwords_are_kept_private_and_reused(credentials_file):
    out = io.StringIO()
    call_command("seed_demo", "--skip-apps", stdout=out)
    stored = credentials_file.read_text()

    assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"
    out_again = io.StringIO()
    call_command("seed_demo", "--skip-apps", stdout=out_again)
    assert credentials_file.read_text() == stored
    assert set(json.loads(stored)) == {"admin", "customer", "support", "finance"}
    for email in ("admin@demo", "finance@demo"):
        line = [line for line in out.getvalue().splitlines() if email in line][0]
        assert line in out_again.getvalue()


@pytest.mark.django_db
def test_finance_password_comes_from_the_environment_and_is_kept(credentials_file, monkeypatch):
    monkeypatch.setenv("DEMO_FINANCE_PASSWORD", "finance-from-env-1")
    out = io.StringIO()
    call_command("seed_demo", "--skip-apps", stdout=out)

    finance = User.objects.get(email="finance@demo.example")
    assert (finance.role, finance.first_name) == (Role.FINANCE, "Fran")
    assert finance.check_password("finance-from-env-1")
    assert json.loads(credentials_file.read_text())["finance"] == "finance-from-env-1"
    assert "finance-from-env-1" in out.getvalue()


@pytest.mark.django_db
def test_the_summary_names_the_sites_own_address(credentials_file, settings):
    settings.SITE_URL = "https://billing.example.com"
    out = io.StringIO()
    call_command("seed_demo", "--skip-apps", stdout=out)
    assert "Log in at https://billing.example.com/accounts/login/ with:" in out.getvalue()
