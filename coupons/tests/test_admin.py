"""Finance staff set how long a discount lasts in the console, through the form it renders."""

import re

import pytest
from django.test import Client

from accounts.factories import FinanceFactory, StaffFactory
from billing.models import Discount
from coupons.models import CouponDuration

pytestmark = pytest.mark.django_db


def _form(browser, url):
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    action = re.search(r'<form[^>]*id="couponduration_form"[^>]*', html).group(0)
    target = re.search(r'(?<![:\w-])action="([^"]*)"', action)  # not Alpine's x-bind:action
    return (target.group(1) if target and target.group(1) else url), token


def test_finance_makes_a_discount_last_three_months_and_bad_months_are_refused():
    discount = Discount.objects.create(code="SPRING", type="PERCENTAGE", percent_off=20)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(FinanceFactory())
    url = "/admin/coupons/couponduration/add/"
    action, token = _form(browser, url)
    refused = browser.post(
        action,
        {
            "discount": discount.pk,
            "duration": "repeating",
            "duration_in_months": "",
            "csrfmiddlewaretoken": token,
        },
    )
    assert refused.status_code == 200 and not CouponDuration.objects.exists()
    assert "errornote" in refused.content.decode() or "errorlist" in refused.content.decode()
    done = browser.post(
        action,
        {
            "discount": discount.pk,
            "duration": "repeating",
            "duration_in_months": "3",
            "csrfmiddlewaretoken": token,
        },
    )
    assert done.status_code == 302
    row = CouponDuration.objects.get()
    assert (row.discount_id, row.duration, row.duration_in_months) == (discount.pk, "repeating", 3)


def test_support_cannot_change_durations():
    browser = Client()
    browser.force_login(StaffFactory())
    assert browser.get("/admin/coupons/couponduration/add/").status_code == 403
