"""Every plan can be bought however the business is set up: without Stripe keys every plan
(trial included) is sold by invoice; with Stripe, a plan marked manual still is. The pages
offer exactly the paths that work. Forms are submitted as the pages render them."""

import io
import re

import pytest
from django.core.management import call_command

from accounts.factories import UserFactory
from billing.models import BillingSource, Invoice, InvoiceStatus, Subscription
from billing.models import SubscriptionStatus as S
from billing.services.subscriptions import lifecycle as service
from catalog.models import Plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded_plans(db):
    call_command("seed_catalog", stdout=io.StringIO())
    return list(
        Plan.objects.filter(active=True, cta_type=Plan.CtaType.SUBSCRIBE).order_by(
            "sort_order", "id"
        )
    )


def _login(client, email):

    user = UserFactory(email=email)
    client.force_login(user)
    return user


def _subscribe_through_page(client, slug, interval="month", code=""):
    page = client.get(f"/billing/subscribe/{slug}/?interval={interval}")
    assert page.status_code == 200
    html = page.content.decode()
    form = re.search(r'<form method="post"( action="([^"]*)")?>(.*?)</form>', html, re.S)
    assert form, "the subscribe page renders its form"
    action = form.group(2) or f"/billing/subscribe/{slug}/"
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(3)))
    if code:
        data["discount_code"] = code
    return client.post(action, data), html


def test_without_stripe_every_seeded_plan_is_sold_by_invoice(no_stripe, client, seeded_plans):
    assert {p.slug for p in seeded_plans} >= {"free", "pro", "business"}
    pricing = client.get("/pricing/").content.decode()
    assert "Paid by card" not in pricing
    for plan in seeded_plans:
        user = _login(client, f"{plan.slug}@example.com")
        response, html = _subscribe_through_page(client, plan.slug)
        assert response.status_code == 302, response.content.decode()
        assert response["Location"] == "/billing/subscription/"
        sub = Subscription.objects.get(user=user)
        assert sub.billing_source == BillingSource.MANUAL
        if plan.product.trial_days:
            # The trial is the same rule as with Stripe: trial first, invoice at its end.
            assert sub.status == S.TRIALING and not sub.invoices.exists()
            assert "Billed by invoice" in html and "first invoice comes when the trial" in html
        elif plan.monthly_price.unit_amount:
            assert sub.status == S.ACTIVE
            invoice = sub.invoices.get()
            assert invoice.status == InvoiceStatus.OPEN and invoice.total > 0
        else:
            assert sub.status == S.ACTIVE
        client.logout()


def test_trial_is_once_per_customer_and_the_pricing_page_says_so(no_stripe, client, seeded_plans):
    user = _login(client, "trial@example.com")
    before = client.get("/pricing/").content.decode()
    assert "14-day free trial" in before and "Start 14-day trial" in before
    response, _ = _subscribe_through_page(client, "pro")
    assert response.status_code == 302
    sub = Subscription.objects.get(user=user)

    service.cancel(subscription=sub, at_period_end=False, actor=user)
    after = client.get("/pricing/").content.decode()
    assert "Start 14-day trial" not in after and "Choose Pro" in after
    response, html = _subscribe_through_page(client, "pro")
    assert "free trial" not in html
    assert response.status_code == 302
    again = Subscription.objects.filter(user=user).exclude(pk=sub.pk).get()
    assert again.status == S.ACTIVE and again.invoices.get().status == InvoiceStatus.OPEN


def test_with_stripe_a_manual_plan_is_still_sold_by_invoice(stripe_double, client, seeded_plans):
    pricing = client.get("/pricing/").content.decode()
    assert "Paid by card" in pricing and "Billed by invoice" in pricing
    user = _login(client, "biz@example.com")
    response, html = _subscribe_through_page(client, "business")
    assert response.status_code == 302 and response["Location"] == "/billing/subscription/"
    assert "Billed by invoice" in html
    sub = Subscription.objects.get(user=user)
    assert sub.billing_source == BillingSource.MANUAL and sub.status == S.ACTIVE
    assert not stripe_double.calls("POST", "/v1/checkout/sessions")
    client.logout()
    card_user = _login(client, "card@example.com")
    response, html = _subscribe_through_page(client, "pro")
    assert "Paid by card" in html
    assert response.status_code == 302 and response["Location"].startswith("http")
    assert Subscription.objects.get(user=card_user).billing_source == BillingSource.STRIPE


def test_plan_change_page_offers_only_changes_that_work(stripe_double, client, seeded_plans):
    user = _login(client, "change@example.com")
    response, _ = _subscribe_through_page(client, "business")
    sub = Subscription.objects.get(user=user)
    page = client.get(f"/billing/subscriptions/{sub.pk}/change-plan/").content.decode()
    select = re.search(r'<select id="plan" name="plan">(.*?)</select>', page, re.S).group(1)
    assert 'value="business"' in select and 'value="pro"' not in select
    others = re.search(r'<ul class="muted" id="other-plans">(.*?)</ul>', page, re.S).group(1)
    assert "Pro" in others and "cancel and subscribe" in others
    refused = client.get(
        f"/billing/subscriptions/{sub.pk}/change-plan/", {"plan": "pro", "interval": "month"}
    )
    assert refused.status_code == 400 and "plan_change_invalid" in refused.content.decode()
    assert Invoice.objects.filter(user=user).count() == 1
