"""Finance staff make promotion codes in the console, through the form it renders: the minimum
typed in money of the coupon's currency, a code already taken refused beside the field; the
list shows each code's count next to its usage rows, and the coupon's page lists its codes."""

import re

import pytest
from django.test import Client

from accounts.factories import FinanceFactory, StaffFactory, UserFactory
from billing.factories import DiscountFactory, FixedDiscountFactory
from billing.models import PromotionCode
from billing.services import cart as cart_service
from billing.services import checkout

pytestmark = pytest.mark.django_db

ADD = "/admin/billing/promotioncode/add/"


def _form(browser, url):
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    action = re.search(r'<form[^>]*id="promotioncode_form"[^>]*', html).group(0)
    target = re.search(r'(?<![:\w-])action="([^"]*)"', action)  # not Alpine's x-bind:action
    return (target.group(1) if target and target.group(1) else url), token


def _fields(coupon, code, token, **more):
    return {
        "discount": coupon.pk,
        "code": code,
        "active": "on",
        "max_redemptions": "100",
        "max_per_customer": "1",
        "starts_at_0": "",
        "starts_at_1": "",
        "expires_at_0": "",
        "expires_at_1": "",
        "minimum_amount": "50.00",
        "csrfmiddlewaretoken": token,
        "usages-TOTAL_FORMS": "0",
        "usages-INITIAL_FORMS": "0",
        **more,
    }


def test_finance_makes_a_promotion_code_and_a_taken_code_is_refused():
    coupon = FixedDiscountFactory(code="TEN-OFF", amount_off=1000, currency="eur")
    DiscountFactory(code="TAKEN")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(FinanceFactory())
    action, token = _form(browser, ADD)
    refused = browser.post(action, _fields(coupon, "taken", token))
    assert refused.status_code == 200 and not PromotionCode.objects.exists()
    assert "A discount already has this code" in refused.content.decode()
    bad = browser.post(action, _fields(coupon, "NO SPACES!", token))
    assert bad.status_code == 200 and "letters, digits and dashes" in bad.content.decode()
    done = browser.post(action, _fields(coupon, "PARTNER-ACME", token))
    assert done.status_code == 302, done.content.decode()[:3000]
    promotion = PromotionCode.objects.get()
    assert (promotion.discount, promotion.code, promotion.max_redemptions) == (
        coupon,
        "PARTNER-ACME",
        100,
    )
    assert (promotion.minimum_amount, promotion.minimum_amount_currency) == (5000, "eur")


def test_the_list_shows_the_count_beside_the_usage_rows_and_the_coupon_lists_its_codes(
    no_stripe, product
):
    coupon = DiscountFactory(code="SPRING-COUPON", percent_off=25)
    PromotionCode.objects.create(discount=coupon, code="SPRING25")
    for _ in range(2):
        buyer = UserFactory()
        cart_service.add_item(user=buyer, product_id=product.pk)
        cart_service.apply_code(user=buyer, code="spring25")
        checkout.checkout(user=buyer, method="manual")
    browser = Client()
    browser.force_login(FinanceFactory())
    listing = browser.get("/admin/billing/promotioncode/").content.decode()
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*SPRING25(?:(?!</tr>).)*</tr>", listing, re.S).group(0)
    cells = re.findall(r'class="field-(times_redeemed|usage_rows)[^"]*"[^>]*>\s*(\d+)', row)
    assert sorted(cells) == [("times_redeemed", "2"), ("usage_rows", "2")]
    coupon_page = browser.get(f"/admin/billing/discount/{coupon.pk}/change/").content.decode()
    assert "SPRING25" in coupon_page


def test_support_cannot_make_promotion_codes():
    browser = Client()
    browser.force_login(StaffFactory())
    assert browser.get(ADD).status_code == 403


def test_the_form_refuses_an_expiry_before_the_start_and_a_limit_below_the_uses():
    coupon = DiscountFactory(code="SPRING-COUPON")
    used = PromotionCode.objects.create(discount=coupon, code="USED", times_redeemed=3)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(FinanceFactory())
    url = f"/admin/billing/promotioncode/{used.pk}/change/"
    action, token = _form(browser, url)
    fields = _fields(coupon, "USED", token, max_redemptions="2")
    fields.update(
        starts_at_0="2027-03-01",
        starts_at_1="00:00",
        expires_at_0="2027-02-01",
        expires_at_1="00:00",
    )
    page = browser.post(action, fields).content.decode()
    assert "The expiry must come after the start." in page
    assert "It has been used 3 times already." in page
    used.refresh_from_db()
    assert used.max_redemptions is None and used.starts_at is None


def test_a_discount_cannot_take_a_promotion_codes_code():
    PromotionCode.objects.create(discount=DiscountFactory(), code="SPRING25")
    browser = Client()
    browser.force_login(FinanceFactory())
    page = browser.post(
        "/admin/billing/discount/add/",
        {
            "code": "spring25",
            "type": "PERCENTAGE",
            "percent_off": "10",
            "minimum_amount": "0",
            "usages-TOTAL_FORMS": "0",
            "usages-INITIAL_FORMS": "0",
        },
    )
    assert page.status_code == 200
    assert "A promotion code already has this code." in page.content.decode()
