"""The "Download my data" page lists what the file holds, and the file (downloaded from the
page's own link) holds each of those sections with the customer's rows in it."""

import json
import re

import pytest

from billing.factories import OrderFactory
from catalog.factories import ProductFactory, ReviewFactory
from catalog.models import ReviewVote
from credits.factories import FeatureCostFactory
from credits.services import consume_credits, grant_credits
from support import services

pytestmark = pytest.mark.django_db


def test_the_export_holds_every_section_its_page_promises(
    customer_client, customer, other_customer
):
    product = ProductFactory(name="Quantum Widget", slug="quantum-widget")
    ReviewFactory(product=product, author=customer, rating=4, title="Solid")
    theirs = ReviewFactory(product=product, author=other_customer, rating=5)
    ReviewVote.objects.create(review=theirs, voter=customer)
    OrderFactory(user=customer)
    grant_credits(user=customer, amount=100, source="SIGNUP_BONUS")
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="AI text chat", cost=3)
    consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=2)
    services.open_ticket(customer=customer, subject="Hello", description="A question")

    page = customer_client.get("/account/export/").content.decode()
    promised = re.findall(r'data-section="([a-z_]+)"', page)
    assert {"credits", "reviews", "orders", "support"} <= set(promised)
    link = re.search(r'href="([^"]+)"[^>]*download', page).group(1)
    response = customer_client.get(link)
    assert response.status_code == 200
    document = json.loads(b"".join(response.streaming_content))
    missing = [section for section in promised if section not in document]
    assert missing == [], f"the page promises {missing} but the file has no such section"

    assert [r["title"] for r in document["reviews"]["written"]] == ["Solid"]
    assert [v["review_id"] for v in document["reviews"]["marked_helpful"]] == [theirs.pk]
    assert len(document["credits"]["ledger"]) == 2
    assert document["credits"]["balance"] == 94
    assert len(document["orders"]) == 1
