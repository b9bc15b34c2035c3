import html
import re
from datetime import date, timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from core.models import AuditAction, AuditLog
from credits import services
from credits.charts import usage_chart
from credits.context_processors import low_balance
from credits.factories import funded_user
from credits.models import (
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    GrantSource,
    TransactionLot,
)

PAGE = "/credits/"


@pytest.mark.django_db
def test_credits_page_needs_a_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_credits_page_of_a_new_customer_shows_empty_states(customer_client):
    response = customer_client.get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "You have no credits right now." in html
    assert "No credits used in the last 30 days." in html
    assert "No credit movements yet." in html
    assert "No metered operations are available yet." in html
    assert 'href="/catalog/?type=CREDIT_PACK"' in html


@pytest.mark.django_db
def test_credits_page_shows_balance_lots_runway_costs_chart_and_history(
    chat, customer, customer_client
):
    services.grant_credits(
        user=customer,
        amount=120,
        source=GrantSource.PURCHASE,
        expires_at=timezone.now() + timedelta(days=5),
    )
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=6)

    response = customer_client.get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["balance"] == 90
    assert response.context["runway_days"] == 90.0
    assert "Credit pack purchase" in html
    assert "Expiring within 7 days" in html and "<strong>90</strong>" in html
    assert '<svg class="credits-chart"' in html and 'role="img"' in html
    assert "AI_TEXT_CHAT 30 credits" in html  # the bar's accessible title
    assert "Text chat" in html  # the costs table
    assert "-30" in html and "+120" in html  # the history
    assert "Your credit balance is low" not in html


@pytest.mark.django_db
def test_credits_page_switches_the_usage_range_and_ignores_bad_values(chat, customer_client):
    assert customer_client.get(PAGE + "?range=90").context["days"] == 90
    assert len(customer_client.get(PAGE + "?range=90").context["usage"]["days"]) == 90
    assert customer_client.get(PAGE + "?range=7000").context["days"] == 30


def _history_links(response) -> dict[str, str]:
    """The history's navigation links by their words: {"Older": href, ...}."""
    nav = response.content.decode().split('aria-label="History pages"')
    if len(nav) < 2:
        return {}
    links = re.findall(r'<a href="([^"]+)"[^>]*>(\w+)</a>', nav[1].split("</nav>")[0])
    return {words: html.unescape(href) for href, words in links}


@pytest.mark.django_db
def test_credits_page_pages_through_the_history_by_keyset(chat, customer, customer_client):
    funded_user(user=customer, credits=1000)
    for _ in range(44):
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT")
    newest_first = list(
        CreditTransaction.objects.filter(user=customer)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )

    first = customer_client.get(PAGE)
    second = customer_client.get(PAGE + _history_links(first)["Older"])
    third = customer_client.get(PAGE + _history_links(second)["Older"])
    back = customer_client.get(PAGE + _history_links(third)["Newer"])

    def shown(response):
        return [row.pk for row in response.context["ledger"].rows]

    assert shown(first) == newest_first[:20]
    assert set(_history_links(first)) == {"Older"}
    assert shown(second) == newest_first[20:40]
    assert set(_history_links(second)) == {"Newest", "Newer", "Older"}
    assert shown(third) == newest_first[40:]
    assert set(_history_links(third)) == {"Newest", "Newer"}
    assert shown(back) == newest_first[20:40]
    # "Newer" from the second page has fewer than a page above it: the newest page.
    assert shown(customer_client.get(PAGE + _history_links(second)["Newer"])) == shown(first)


@pytest.mark.django_db
def test_credits_page_orders_rows_of_the_same_instant_by_id_across_pages(customer, customer_client):
    grant = services.grant_credits(user=customer, amount=30, source=GrantSource.PROMO)
    # Thirty consumptions stamped with one instant, written as a bulk import would (the
    # services stamp each row with its own time), lots and balance kept in step.
    moment = timezone.now()
    rows = CreditTransaction.objects.bulk_create(
        CreditTransaction(
            user=customer,
            kind="CONSUME",
            operation="AI_TEXT_CHAT",
            quantity=1,
            amount=-1,
            balance_after=29 - i,
            created_at=moment,
        )
        for i in range(30)
    )
    TransactionLot.objects.bulk_create(
        TransactionLot(transaction=row, grant_id=grant.details["grant_id"], amount=-1)
        for row in rows
    )
    CreditGrant.objects.filter(pk=grant.details["grant_id"]).update(remaining=0)
    CreditBalance.objects.filter(user=customer).update(balance=0)
    newest_first = list(
        CreditTransaction.objects.filter(user=customer)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )

    first = customer_client.get(PAGE)
    second = customer_client.get(PAGE + _history_links(first)["Older"])

    seen = [row.pk for page in (first, second) for row in page.context["ledger"].rows]
    assert seen == newest_first


@pytest.mark.django_db
def test_credits_page_with_a_malformed_or_stale_cursor_shows_the_newest_page(
    chat, customer, customer_client
):
    funded_user(user=customer, credits=1000)
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT")

    for query in (
        "?before=abc",
        "?after=1-x",
        "?before=99999999999999999-1",
        "?before=1-1",
        "?after=1-1",
    ):
        response = customer_client.get(PAGE + query)
        assert response.status_code == 200, query
        assert len(response.context["ledger"].rows) == 2, query


@pytest.mark.django_db
def test_credits_page_never_shows_another_customers_credits(chat, other_customer, customer_client):
    funded_user(user=other_customer, credits=777)

    response = customer_client.get(PAGE)

    assert response.context["balance"] == 0
    assert "777" not in response.content.decode()


@pytest.mark.django_db
def test_low_balance_banner_on_the_page_and_from_the_context_processor(customer, customer_client):
    funded_user(user=customer, credits=12)

    html = customer_client.get(PAGE).content.decode()
    request = RequestFactory().get("/")
    request.user = customer

    assert "Your credit balance is low: 12 credits left" in html
    assert low_balance(request)["credits_low_balance"] is True
    services.grant_credits(user=customer, amount=50, source=GrantSource.PURCHASE)
    assert low_balance(request)["credits_low_balance"] is False


# --- staff console -------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_ledger_is_read_only(chat, customer, admin_client_user):
    row = services.grant_credits(user=customer, amount=10, source=GrantSource.PROMO)

    listing = admin_client_user.get("/admin/credits/credittransaction/?kind__exact=GRANT")
    add = admin_client_user.get("/admin/credits/credittransaction/add/")
    delete = admin_client_user.post(
        f"/admin/credits/credittransaction/{row.pk}/delete/", {"post": "yes"}
    )
    change = admin_client_user.post(
        f"/admin/credits/credittransaction/{row.pk}/change/", {"amount": 1000}
    )

    assert listing.status_code == 200 and customer.email in listing.content.decode()
    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code == 403
    row.refresh_from_db()
    assert row.amount == 10


@pytest.mark.django_db
def test_admin_feature_costs_are_editable(chat, admin_client_user):
    response = admin_client_user.post(
        f"/admin/credits/featurecost/{chat.pk}/change/",
        {
            "operation": "AI_TEXT_CHAT",
            "name": "Text chat",
            "description": "",
            "tags": "ai,chat",
            "cost": 8,
            "active": "on",
        },
    )

    assert response.status_code == 302
    chat.refresh_from_db()
    assert (chat.cost, chat.tags) == (8, ["ai", "chat"])


@pytest.mark.django_db
def test_admin_balances_filter_low_balance_and_search_by_email(
    customer, other_customer, admin_client_user
):
    funded_user(user=customer, credits=5)
    funded_user(user=other_customer, credits=500)

    low = admin_client_user.get("/admin/credits/creditbalance/?low=yes").content.decode()
    found = admin_client_user.get("/admin/credits/creditbalance/?q=other@").content.decode()

    assert customer.email in low and other_customer.email not in low
    assert other_customer.email in found and customer.email not in found


@pytest.mark.django_db
def test_admin_adjust_credits_action_asks_for_a_reason_then_adjusts_and_audits(
    customer, admin_user, admin_client_user
):
    funded_user(user=customer, credits=5)
    row = CreditBalance.objects.get(user=customer)
    url = "/admin/credits/creditbalance/"
    chosen = {"action": "adjust_credits", "_selected_action": [row.pk]}

    confirm = admin_client_user.post(url, chosen)
    missing_reason = admin_client_user.post(
        url, {**chosen, "apply": "1", "amount": 20, "reason": " "}
    )
    assert confirm.status_code == 200 and "Confirm adjustment" in confirm.content.decode()
    assert missing_reason.status_code == 200
    assert "A reason is required." in missing_reason.content.decode()
    assert CreditBalance.objects.get(user=customer).balance == 5

    done = admin_client_user.post(
        url, {**chosen, "apply": "1", "amount": 20, "reason": "Outage on 3 March"}
    )

    assert done.status_code == 302
    assert CreditBalance.objects.get(user=customer).balance == 25
    adjust = CreditTransaction.objects.get(user=customer, kind="ADJUST")
    assert (adjust.amount, adjust.actor, adjust.details["reason"]) == (
        20,
        admin_user,
        "Outage on 3 March",
    )
    assert AuditLog.objects.filter(
        action=AuditAction.CREDIT_ADJUST, actor=admin_user, resource_id=str(adjust.pk)
    ).exists()


@pytest.mark.django_db
def test_admin_adjust_below_zero_is_refused_with_a_message(customer, admin_client_user):
    funded_user(user=customer, credits=5)
    row = CreditBalance.objects.get(user=customer)

    response = admin_client_user.post(
        "/admin/credits/creditbalance/",
        {
            "action": "adjust_credits",
            "_selected_action": [row.pk],
            "apply": "1",
            "amount": -6,
            "reason": "too much",
        },
        follow=True,
    )

    assert "cannot go below zero" in response.content.decode()
    assert CreditBalance.objects.get(user=customer).balance == 5
    assert not CreditTransaction.objects.filter(user=customer, kind="ADJUST").exists()


@pytest.mark.django_db
def test_admin_grants_list(customer, admin_client_user):
    services.grant_credits(
        user=customer, amount=10, source=GrantSource.PURCHASE, source_ref="order:ORD-77"
    )

    response = admin_client_user.get("/admin/credits/creditgrant/?source__exact=PURCHASE")

    assert response.status_code == 200
    assert "order:ORD-77" in response.content.decode()


def test_usage_chart_draws_one_escaped_bar_per_day_and_operation_used():
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    usage = {
        "days": days,
        "operations": ["<b>X</b>", "AI_TEXT_CHAT"],
        "series": {"<b>X</b>": [0, 4], "AI_TEXT_CHAT": [2, 0]},
        "totals": [2, 4],
        "max": 4,
    }

    chart = usage_chart(usage)

    assert chart["bars_svg"].count("<rect ") == 2
    assert "<title>Mar 02: &lt;b&gt;X&lt;/b&gt; 4 credits</title>" in chart["bars_svg"]
    assert "<b>" not in chart["bars_svg"]
    assert all("." in bar["x"] and "," not in bar["y"] for bar in chart["bars"])
