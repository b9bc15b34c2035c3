"""Customer flows in a real browser, each page watched by the suite (console errors, failed
requests, requests to other hosts, horizontal overflow) and photographed."""

import json
import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, UserFactory
from accounts.models import ApiKey, User
from billing.factories import SubscriptionFactory, give_api_access
from billing.models import IncludedDownload
from billing.services import cart, checkout
from catalog.factories import (
    PlanFactory,
    PriceFactory,
    ProductFactory,
    ReviewFactory,
    VariantFactory,
)
from core.system_config import get_config
from credits.factories import FeatureCostFactory
from credits.services import consume_credits, grant_credits
from support import services
from support.models import Conversation, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHOSEN_WORDS = "a-long-and-unusual-passphrase-7"


def test_sign_up_and_confirm_the_e_mail_address(page, live_server, settings):
    settings.SITE_URL = live_server.url
    page.goto("/accounts/signup/")
    page.shots("signup")
    page.fill('input[name="email"]', "new.customer@example.com")
    page.fill('input[name="password1"]', CHOSEN_WORDS)
    page.fill('input[name="password2"]', CHOSEN_WORDS)
    page.locator("form[action='/accounts/signup/'] button[type=submit]").click()
    page.wait_for_load_state()
    page.shots("verification-sent")
    sent = mail.outbox[-1]
    business = get_config("business_name")
    assert sent.subject.startswith(f"[{business}]") and business in sent.body
    assert "example.com" not in sent.body.replace("new.customer@example.com", "")
    # The link is followed exactly as written in the e-mail: it starts with SITE_URL.
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", sent.body).group(0)
    assert link.startswith(live_server.url)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    page.shots("confirmed")
    assert User.objects.get(email="new.customer@example.com").email_verified


def test_help_search_shows_no_markdown_and_article_links_lead_to_real_pages(page, logged_in):
    call_command("seed_support", "--articles-only", verbosity=0)
    logged_in(page, UserFactory(email="reader@example.com"))
    page.goto("/help/")
    page.shots("help-centre")
    page.fill("input[name=q]", "cancel subscription")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_load_state()
    results = page.locator("main")
    expect(results.get_by_role("link", name="How do I cancel my subscription?")).to_be_visible()
    assert "**" not in results.inner_text() and "](/" not in results.inner_text()
    page.shots("search")
    results.get_by_role("link", name="How do I cancel my subscription?").click()
    page.wait_for_load_state()
    article = page.locator("main")
    expect(article.locator("strong", has_text="Cancel at")).to_be_visible()
    assert "**" not in article.inner_text()
    page.shots("article")
    # Its link leads to the page it names (the watcher fails the test on a 404).
    article.get_by_role("link", name="Subscription", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith("/billing/subscription/")
    page.shots("linked-page")


def test_the_bot_answers_keeps_the_conversation_and_hands_off_to_a_ticket(page, logged_in):
    call_command("seed_support", "--articles-only", verbosity=0)
    customer = UserFactory(email="asker@example.com")
    logged_in(page, customer)
    page.goto("/support/chat/")
    page.fill("#chat-message", "How do I cancel my subscription?")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("#chat-log li.bot").first
    expect(answer).to_contain_text("Here is what our help centre says")
    assert "**" not in answer.inner_text()
    page.shots("answered")

    page.reload()
    expect(page.locator("#chat-log li.customer").first).to_contain_text(
        "How do I cancel my subscription?"
    )
    expect(page.locator("#chat-log li.bot").first).to_be_visible()
    page.shots("after-reload")

    page.fill("#chat-message", "Zyxwv qwertz frobnicate?")
    page.get_by_role("button", name="Ask").click()
    hand = page.get_by_role("button", name="Hand over to a human")
    expect(hand).to_be_visible()
    assert Conversation.objects.filter(customer=customer).count() == 1
    hand.click()
    expect(page.locator("#chat-status")).to_contain_text("opened: our team will reply")
    ticket = Ticket.objects.get(customer=customer)
    page.shots("handed-off")
    page.get_by_role("link", name=f"View ticket {ticket.number}").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=re.compile(ticket.subject[:20]))).to_be_visible()
    page.shots("ticket")


LONG_WORD = "y" * 5000


def test_a_ticket_with_an_attachment_and_a_very_long_word(page, person_page, logged_in):
    customer = UserFactory(email="writer@example.com")
    logged_in(page, customer)
    page.goto("/support/new/")
    page.fill("#id_subject", "The export button does nothing")
    page.fill("#id_description", f"It fails with this token: {LONG_WORD}")
    page.set_input_files(
        "#id_attachments",
        files=[
            {
                "name": "screen.png",
                "mimeType": "image/png",
                "buffer": b"\x89PNG\r\n\x1a\n" + b"0" * 64,
            }
        ],
    )
    page.get_by_role("button", name="Send ticket").click()
    page.wait_for_load_state()
    ticket = Ticket.objects.get(customer=customer)
    assert [f.name for m in ticket.messages.all() for f in m.attachments.all()] == ["screen.png"]
    expect(page.get_by_role("link", name="screen.png")).to_be_visible()
    page.shots("ticket")  # the watcher fails the test if the long word widens the page

    phone = person_page("phone", mobile=True)
    logged_in(phone, customer)
    phone.goto(f"/support/tickets/{ticket.pk}/")
    expect(phone.get_by_role("link", name="screen.png")).to_be_visible()
    phone.shots("ticket")


def test_product_search_and_a_product_with_variants(page, logged_in):
    suite = ProductFactory(
        name="Studio Suite",
        slug="studio-suite",
        tags=["design"],
        short_description="Design tools for teams.",
    )
    PriceFactory(product=suite, unit_amount=4900)
    VariantFactory(product=suite, name="Personal licence", price_amount=4900)
    team = VariantFactory(
        product=suite, name="Team licence", price_amount=19900, license_type="team", seats=5
    )
    ReviewFactory(product=suite, rating=5, title="Great")
    ProductFactory(name="Plain Gadget", slug="plain-gadget")
    logged_in(page, UserFactory(email="shopper@example.com"))
    page.goto("/catalog/")
    page.fill("#id_q", "studio")
    page.locator("#id_q").press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Studio Suite").first).to_be_visible()
    expect(page.get_by_role("link", name="Plain Gadget")).to_have_count(0)
    page.shots("search")
    page.get_by_role("link", name="Studio Suite").first.click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Licences and options")).to_be_visible()
    page.shots("product")
    page.select_option("#add-variant", value=str(team.pk))
    page.fill("#add-quantity", "2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Team licence").first).to_be_visible()
    page.shots("cart")

    # An empty discount code is explained beside the field.
    page.checks.expect(r"/cart/$", 400)
    page.locator("#code").evaluate("el => el.removeAttribute('required')")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#code-errors")).to_have_text("Enter a discount code to apply.")
    page.shots("empty-code")


def test_download_my_data(page, logged_in):
    customer = UserFactory(email="exporter@example.com")
    product = ProductFactory(name="Quantum Widget", slug="quantum-widget")
    ReviewFactory(product=product, author=customer, rating=4, title="Solid")
    grant_credits(user=customer, amount=50, source="SIGNUP_BONUS")
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="AI text chat", cost=3)
    consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=1)
    handbook = ProductFactory(name="Handbook", slug="handbook", download_limit=3)
    plan = PlanFactory(name="Studio", slug="studio")
    plan.included_downloads.add(handbook)
    subscription = SubscriptionFactory(user=customer, plan=plan)
    # What a download the plan included leaves (billing.services.downloads counts it).
    IncludedDownload.objects.create(
        subscription=subscription,
        user=customer,
        product=handbook,
        download_count=1,
        download_limit=3,
    )
    logged_in(page, customer)
    page.goto("/account/export/")
    expect(page.get_by_text("the downloads their plan included")).to_be_visible()
    page.shots("export")
    promised = page.locator("[data-section]").evaluate_all(
        "items => items.map(i => i.dataset.section)"
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [s for s in promised if s not in document] == []
    assert document["profile"]["email"] == "exporter@example.com"
    assert [r["title"] for r in document["reviews"]["written"]] == ["Solid"]
    assert len(document["credits"]["ledger"]) == 2
    [exported] = document["subscriptions"]
    assert [
        (d["product"], d["download_count"], d["download_limit"])
        for d in exported["included_downloads"]
    ] == [("handbook", 1, 3)]


def test_create_an_api_key_then_delete_the_account(page, logged_in):
    customer = UserFactory(email="leaver@example.com")
    give_api_access(customer)  # keys work with a plan that includes API access
    logged_in(page, customer)
    page.goto("/account/api-keys/")
    page.shots("api-keys")
    page.goto("/account/api-keys/new/")
    page.fill("input[name=name]", "CI pipeline")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_load_state()
    raw = page.locator("#raw-key").input_value()
    key = ApiKey.objects.get(user=customer)
    assert key.name == "CI pipeline" and key.prefix in raw
    page.shots("api-key-created")

    page.goto("/account/delete/")
    page.shots("delete")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.check("input[name=confirm]")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    expect(
        page.get_by_text("Your account was closed and your personal data erased.")
    ).to_be_visible()
    page.shots("deleted")
    customer.refresh_from_db()
    assert customer.deleted_at is not None and not customer.is_active


def test_the_catalog_on_a_phone(mobile_page):
    call_command("seed_catalog", verbosity=0)
    page = mobile_page
    page.goto("/catalog/")
    expect(page.locator("img.product-thumb").first).to_be_visible()
    page.shots("catalog-390")
    # The header's links are all inside the screen, "Sign up" included.
    sign_up = page.get_by_role("link", name="Sign up")
    box = sign_up.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.locator(".product-card a").first.click()
    page.wait_for_load_state()
    page.shots("product-390")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/catalog/")
    box = page.get_by_role("link", name="Sign up").bounding_box()
    assert box and box["x"] + box["width"] <= 360
    page.shots("catalog-360")


PHONE_PAGES = [
    "/catalog/",
    "/pricing/",
    "/collections/",
    "/help/",
    "/account/",
    "/account/profile/",
    "/account/sessions/",
    "/account/api-keys/",
    "/account/export/",
    "/account/delete/",
    "/cart/",
    "/orders/",
    "/billing/subscription/",
    "/billing/invoices/",
    "/credits/",
    "/support/",
    "/support/new/",
    "/support/chat/",
]


def test_every_customer_page_fits_a_phone(mobile_page, logged_in):
    """Each page the header links to, with a customer's rows in it, at 390 px: the watcher
    fails the test on horizontal scroll."""

    call_command("seed_catalog", verbosity=0)
    call_command("seed_support", "--articles-only", verbosity=0)
    customer = UserFactory(email="phone.user@example.com")
    widget = ProductFactory(
        name="Quantum Widget with a rather long product name", slug="quantum-widget"
    )
    PriceFactory(product=widget, unit_amount=2500)
    cart.add_item(user=customer, product_id=widget.pk, quantity=3)
    order = checkout.checkout(user=customer, method="manual").order
    cart.add_item(user=customer, product_id=widget.pk, quantity=1)
    grant_credits(user=customer, amount=500, source="SIGNUP_BONUS")
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="AI text chat", cost=3)
    consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=4)
    ticket = services.open_ticket(
        customer=customer, subject="A question about my order", description="Where is it?"
    )
    logged_in(mobile_page, customer)
    for path in PHONE_PAGES + [
        f"/orders/{order.number}/",
        f"/orders/{order.number}/invoice/",
        f"/support/tickets/{ticket.pk}/",
        "/help/refund-policy/",
    ]:
        mobile_page.goto(path)
        mobile_page.shots(path.strip("/").replace("/", "-") or "home")
