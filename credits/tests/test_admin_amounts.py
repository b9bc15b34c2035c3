"""Credit adjustments in the staff console stay within what a credits column holds: a number
too large is a message beside the field, nothing changes, never a database error (500). The
tests submit the forms the pages render."""

import re

import pytest

from config.tests.page_forms import find_form, submit
from core.api import DomainError
from core.models import AuditLog
from credits import services
from credits.models import CREDITS_MAX, CreditBalance, CreditTransaction, GrantSource

CHANGELIST = "/admin/credits/creditbalance/"


def _adjust_form(client, row):
    page = client.get(CHANGELIST)
    chosen = submit(
        client,
        page,
        find_form(page, form_id="changelist-form"),
        {"action": "adjust_credits", "_selected_action": [str(row.pk)]},
        button="index",
    )
    assert chosen.status_code == 200 and "Confirm adjustment" in chosen.content.decode()
    return chosen, find_form(chosen, has="reason")


def _beside(html, message) -> bool:
    field = re.search(r'<input[^>]*\bid="id_amount"', html)
    return bool(field) and any(
        abs(found.start() - field.start()) < 400 for found in re.finditer(re.escape(message), html)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed, message",
    [
        (str(CREDITS_MAX + 1), "Add at most 2,147,483,647 credits at a time."),
        (str(10**20), "Add at most 2,147,483,647 credits at a time."),
        (str(-(2**31) - 1), "Remove at most 2,147,483,647 credits at a time."),
        (str(-(10**20)), "Remove at most 2,147,483,647 credits at a time."),
        ("9" * 5000, "Enter a whole number of credits."),
        (
            str(CREDITS_MAX - 9),
            "A balance holds at most 2,147,483,647 credits: customer@example.com has 10.",
        ),
    ],
)
def test_adjusting_beyond_what_a_balance_holds_is_a_form_error(
    customer, admin_client_user, typed, message
):
    services.grant_credits(
        user=customer, amount=10, source=GrantSource.PROMO, idempotency_key="start"
    )
    row = CreditBalance.objects.get(user=customer)
    page, form = _adjust_form(admin_client_user, row)
    audited = AuditLog.objects.count()

    response = submit(
        admin_client_user, page, form, {"amount": typed, "reason": "goodwill"}, button="apply"
    )

    assert response.status_code == 200
    assert _beside(response.content.decode(), message)
    row.refresh_from_db()
    assert row.balance == 10
    assert not CreditTransaction.objects.filter(user=customer, kind="ADJUST").exists()
    assert AuditLog.objects.count() == audited


@pytest.mark.django_db
def test_adjusting_up_to_the_most_a_balance_holds_works(customer, admin_client_user):
    services.grant_credits(
        user=customer, amount=10, source=GrantSource.PROMO, idempotency_key="start"
    )
    row = CreditBalance.objects.get(user=customer)
    page, form = _adjust_form(admin_client_user, row)

    response = submit(
        admin_client_user,
        page,
        form,
        {"amount": str(CREDITS_MAX - 10), "reason": "goodwill"},
        button="apply",
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.balance == CREDITS_MAX


@pytest.mark.django_db
def test_the_service_refuses_a_balance_past_the_column(customer, admin_user):
    services.grant_credits(
        user=customer, amount=10, source=GrantSource.PROMO, idempotency_key="start"
    )
    with pytest.raises(DomainError) as refused:
        services.adjust_credits(
            user=customer, amount=CREDITS_MAX, reason="too much", actor=admin_user
        )
    assert refused.value.code == "balance_too_large"
    assert CreditBalance.objects.get(user=customer).balance == 10
