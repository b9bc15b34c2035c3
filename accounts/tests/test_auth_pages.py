"""allauth's real pages: signup, e-mail confirmation, login, logout, password reset/change,
lockout, and refusal of suspended and deleted accounts."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts import services
from accounts.factories import UserFactory
from accounts.models import ApiKey, LoginSession, Status, User
from accounts.tests.helpers import LOGIN_URL, link_in_last_mail, logged_in_user_id, page_login
from core.models import AuditLog

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-much-longer-passphrase-42"


def test_signup_page_creates_unverified_customer_and_mails_confirmation_link(client):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert b'<label for="id_email"' in response.content

    response = client.post(
        "/accounts/signup/",
        {
            "email": "New.Person@Example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="new.person@example.com")
    assert user.role == "CUSTOMER" and user.status == Status.ACTIVE
    assert user.email_verified is False
    assert AuditLog.objects.filter(
        action="CREATE", resource_type="accounts.User", resource_id=str(user.pk)
    ).exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    assert logged_in_user_id(client) is None  # verification is mandatory


def test_confirming_the_mailed_link_marks_the_email_verified(client):
    client.post(
        "/accounts/signup/",
        {"email": "conf@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    link = link_in_last_mail(r"/accounts/confirm-email/[^/\s]+/")

    page = client.get(link)
    assert page.status_code == 200 and b"Confirm" in page.content
    response = client.post(link)

    assert response.status_code == 302
    user = User.objects.get(email="conf@example.com")
    assert user.email_verified is True and user.email_verified_at is not None
    assert logged_in_user_id(client) == str(user.pk)
    assert LoginSession.objects.filter(user=user, revoked_at=None).count() == 1


def test_signup_page_refuses_weak_password_and_creates_nobody(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "weak@example.com", "password1": "12345", "password2": "12345"},
    )

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(email="weak@example.com").exists()


def test_signup_page_with_taken_email_in_other_case_creates_no_second_account(client, customer):
    response = client.post(
        "/accounts/signup/",
        {"email": "CUSTOMER@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    # allauth does not reveal who has an account: same page as a real signup, and the
    # owner of the address gets an "account already exists" mail instead.
    assert response.status_code == 302
    assert User.all_objects.filter(email__iexact="customer@example.com").count() == 1
    assert mail.outbox[-1].to == ["customer@example.com"]


def test_login_page_signs_in_and_records_a_login_session(client, customer, password):
    response = page_login(client, "Customer@Example.com", password, HTTP_USER_AGENT="Firefox test")

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)
    session = LoginSession.objects.get(user=customer)
    assert session.session_key == client.session.session_key
    assert session.user_agent == "Firefox test" and session.ip_address == "127.0.0.1"
    assert AuditLog.objects.filter(action="LOGIN", actor=customer).exists()


def test_login_page_with_wrong_password_shows_an_error(client, customer):
    response = page_login(client, customer.email, "not-the-password")

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert logged_in_user_id(client) is None


def test_logout_asks_for_confirmation_then_ends_the_session(client, customer, password):
    page_login(client, customer.email, password)

    confirm = client.get("/accounts/logout/")
    assert confirm.status_code == 200 and b"Log out?" in confirm.content
    assert logged_in_user_id(client) == str(customer.pk)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert logged_in_user_id(client) is None
    assert LoginSession.objects.get(user=customer).revoked_at is not None


def test_password_reset_flow_sets_a_new_password(client, customer):
    assert client.get("/accounts/password/reset/").status_code == 200
    response = client.post("/accounts/password/reset/", {"email": customer.email})
    assert response.status_code == 302
    link = link_in_last_mail(r"/accounts/password/reset/key/[^\s]+/")

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and b"Choose a new password" in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert client.get(done["Location"]).status_code == 200


def test_password_change_requires_the_old_password(client, customer, password):
    page_login(client, customer.email, password)

    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "nope", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    customer.refresh_from_db()
    assert customer.check_password(password)

    right = client.post(
        "/accounts/password/change/",
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert right.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


def test_login_page_locks_out_after_five_failures_even_with_the_right_password(
    client, customer, other_customer, password
):
    for _ in range(4):
        assert page_login(client, customer.email, "wrong-password").status_code == 200
    page_login(client, customer.email, "wrong-password")

    response = page_login(client, customer.email, password)

    assert response.status_code == 429
    assert b"Sign-in temporarily locked" in response.content
    assert logged_in_user_id(client) is None
    # Another e-mail from the same address is not locked.
    assert page_login(client, other_customer.email, password).status_code == 302
    assert logged_in_user_id(client) == str(other_customer.pk)


def test_lockout_is_per_address_so_another_ip_can_still_sign_in(client, customer, password):
    for _ in range(5):
        page_login(client, customer.email, "wrong-password")

    response = page_login(client, customer.email, password, REMOTE_ADDR="10.0.0.9")

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)


def test_suspended_user_is_refused_at_login_with_a_clear_message(client, customer, password):
    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    response = page_login(client, customer.email, password, follow=True)

    assert response.status_code == 200
    assert b"This account cannot sign in" in response.content
    assert b"suspended" in response.content
    assert logged_in_user_id(client) is None


def test_suspending_ends_an_open_browser_session_at_once(client, customer, password):
    page_login(client, customer.email, password)
    assert client.get("/account/").status_code == 200

    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN_URL)
    api = client.get("/api/v1/me/")
    assert api.status_code in (401, 403)
    assert LoginSession.objects.get(user=customer).revoked_at is not None


def test_suspended_user_session_is_refused_even_when_its_row_survived(client, customer, password):
    """A session that was not recorded (say, created before recording existed) still stops
    working: Django loads no inactive user from a session."""
    page_login(client, customer.email, password)
    LoginSession.objects.filter(user=customer).delete()

    services.change_status(user=customer, status=Status.SUSPENDED, actor=None)

    assert client.get("/account/").status_code == 302
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_deleted_user_cannot_log_in_with_old_email_or_password(client, customer, password):
    services.delete_account(user=customer, actor=customer)

    response = page_login(client, "customer@example.com", password)

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert logged_in_user_id(client) is None


def test_reactivated_user_can_log_in_again(client, customer, password, admin_user):
    services.change_status(user=customer, status=Status.SUSPENDED, actor=admin_user)
    services.change_status(user=customer, status=Status.ACTIVE, actor=admin_user)

    assert page_login(client, customer.email, password).status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)


def test_unverified_user_is_sent_to_confirm_their_email_on_login(client, password):
    user = UserFactory(email="unverified@example.com", email_verified=False)

    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)

    response = page_login(client, user.email, password)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert logged_in_user_id(client) is None
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/done/",
        "/accounts/inactive/",
        "/accounts/confirm-email/",
        "/accounts/confirm-email/bogus/",
    ],
)
def test_anonymous_account_pages_render_in_the_site_layout(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert b'class="site-header"' in response.content and b"<h1>" in response.content


@pytest.mark.parametrize(
    "url", ["/accounts/email/", "/accounts/password/change/", "/accounts/logout/"]
)
def test_signed_in_account_pages_render_in_the_site_layout(customer_client, url):
    response = customer_client.get(url)

    assert response.status_code == 200
    assert b'class="site-header"' in response.content
