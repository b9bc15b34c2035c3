"""Fuzz every operation of /api/v1/ with schemathesis, as anonymous, customer and staff.

The schema is the app's own (served by drf-spectacular at /api/v1/schema/, loaded in-process
through the WSGI app: no server). Each operation gets a bounded, derandomized number of
positive and negative examples and every response must pass: no 5xx, a documented status
code, a documented content type, a body matching the documented schema, and invalid input
rejected.
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.settings import spectacular_settings
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.openapi import document_error_responses
from accounts.services import create_api_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 6

HOOK = "accounts.openapi.document_error_responses"


def _served_schema() -> dict:
    """What GET /api/v1/schema/ serves, generated in-process by drf-spectacular."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


def _schema_under_test() -> dict:
    served = _served_schema()
    if HOOK not in spectacular_settings.POSTPROCESSING_HOOKS:
        # Until config registers the hook (test_served_schema_documents_error_answers below
        # fails strictly until then), fuzz the schema as it will be served once it does.
        document_error_responses(served, None, None, True)
    return served


schema = schemathesis.openapi.from_dict(_schema_under_test())
schema.app = get_wsgi_application()
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    with_security_parameters=False,
)

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


_PAGE_SIZE = (
    "config/api.py Pagination (PageNumberPagination, page_size_query_param='page_size') "
    "falls back to the default page size on a non-integer ?page_size=null instead of "
    "answering 400; the schema declares an integer (lead: config/)"
)
_BILLING_PAGE = (
    "billing/api.py: the list is paginated ({count,next,previous,results}) but documented "
    "as a bare array (responses=...(many=True) on an APIView; billing owner)"
)
# Known failures outside the finished apps, by (role, operation); strict, so each one that
# starts passing fails the suite until it is taken off this list.
KNOWN_FAILURES = {
    **{(role, f"GET /api/v1/{path}"): _PAGE_SIZE
       for role in ("anonymous", "customer", "staff")
       for path in ("collections/", "kb/articles/", "products/")},
    **{(role, f"GET /api/v1/{path}"): _PAGE_SIZE
       for role in ("customer", "staff") for path in ("me/api-keys/", "me/sessions/")},
    **{(role, "GET /api/v1/invoices/"): _BILLING_PAGE for role in ("customer", "staff")},
    **{(role, "GET /api/v1/subscriptions/"): _BILLING_PAGE for role in ("customer", "staff")},
    **{(role, "POST /api/v1/subscriptions/"): (
        "billing/api.py SubscriptionListView.post answers 404 (unknown plan/price id in the "
        "body) but documents no 404 (billing owner)") for role in ("customer", "staff")},
}


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Requests go through the real WSGI handler, whose request_started/finished signals would
    close the test's database connection mid-transaction; Django's own test Client
    disconnects the same receiver for the same reason."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(customer, other_customer):
    """Rows the generated ids may land on, owned by someone else than the caller."""
    from catalog.factories import ProductFactory

    ProductFactory()
    return None


@pytest.fixture
def customer_headers(customer):
    _, raw = create_api_key(user=customer, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def staff_headers(support_agent):
    _, raw = create_api_key(user=support_agent, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_anonymous(case, fuzz_data):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_customer(case, fuzz_data, customer_headers):
    case.call_and_validate(checks=CHECKS, headers=customer_headers)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_staff(case, fuzz_data, staff_headers):
    case.call_and_validate(checks=CHECKS, headers=staff_headers)


@pytest.mark.xfail(strict=True, reason=(
    "config/settings/base.py SPECTACULAR_SETTINGS does not register "
    "accounts.openapi.document_error_responses in POSTPROCESSING_HOOKS, so the served "
    "schema omits the 400/401/403/404 answers every operation can give (lead: config/)"))
def test_served_schema_documents_error_answers():
    served = _served_schema()
    assert "401" in served["paths"]["/api/v1/cart/"]["get"]["responses"]
