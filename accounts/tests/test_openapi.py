"""The schema tells the truth about error answers and string inputs (found by the API fuzzer)."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.models import ApiKey
from accounts.openapi import ERROR_COMPONENT, document_error_responses


def _schema():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


def test_error_hook_documents_401_everywhere_and_404_for_path_parameters():
    schema = document_error_responses(_schema(), None, None, True)
    cart = schema["paths"]["/api/v1/cart/"]["get"]["responses"]
    assert {"401", "403"} <= set(cart)
    assert cart["401"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{ERROR_COMPONENT}"
    }
    ticket = schema["paths"]["/api/v1/tickets/{id}/"]["get"]["responses"]
    assert set(ticket["404"]["content"]) == {"application/json", "text/html"}
    products = schema["paths"]["/api/v1/products/"]["get"]["responses"]
    assert {"400", "401", "404"} <= set(products)  # query parameters; a page past the end
    # A public read, but a customer's API key without api_access is refused.
    assert "entitlement_required" in products["403"]["description"]
    assert "415" in schema["paths"]["/api/v1/tickets/"]["post"]["responses"]
    assert "415" not in products


def test_error_hook_keeps_what_a_view_declared():
    schema = _schema()
    declared = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["429"]
    documented = document_error_responses(schema, None, None, True)
    assert documented["paths"]["/api/v1/auth/token/"]["post"]["responses"]["429"] == declared


def test_avatar_url_is_a_plain_string_in_the_schema_because_it_may_be_empty():
    user = _schema()["components"]["schemas"]["User"]["properties"]["avatar_url"]
    assert "format" not in user


@pytest.mark.django_db
def test_api_key_name_must_be_a_string_not_a_number(customer_api, customer):
    response = customer_api.post("/api/v1/me/api-keys/", {"name": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "name" in response.json()["fields"]
    assert not ApiKey.objects.filter(user=customer).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), [("patch", "/api/v1/me/"), ("post", "/api/v1/me/api-keys/")]
)
def test_account_api_reads_json_only(customer_api, customer, method, path):
    before = (customer.first_name, ApiKey.objects.filter(user=customer).count())
    response = getattr(customer_api, method)(
        path, {"first_name": "Form", "name": "form"}, format="multipart"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    customer.refresh_from_db()
    assert (customer.first_name, ApiKey.objects.filter(user=customer).count()) == before
    schema = _schema()["paths"][path][method]["requestBody"]["content"]
    assert set(schema) == {"application/json"}
