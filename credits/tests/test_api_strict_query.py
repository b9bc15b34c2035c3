"""The ledger list refuses query values its schema does not allow (found by the API fuzzer)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["abc", "null", "0", "-3", "1.5", "\u00b2", "101"])
def test_transactions_refuse_a_page_size_outside_1_to_100(customer_api, value):
    response = customer_api.get("/api/v1/credits/transactions/", {"page_size": value})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "page_size" in response.json()["fields"]


def test_transactions_accept_a_valid_page_size(customer_api):
    response = customer_api.get("/api/v1/credits/transactions/", {"page_size": "10"})
    assert response.status_code == 200
    assert "results" in response.json()


def test_transactions_refuse_an_empty_kind(customer_api):
    response = customer_api.get("/api/v1/credits/transactions/", {"kind": ""})
    assert response.status_code == 400
    assert "kind" in response.json()["fields"]
