"""Staff console: every model's pages load; product actions go through the services."""

import pytest

from catalog.factories import (
    CategoryFactory,
    CollectionItemFactory,
    DraftProductFactory,
    PlanFactory,
    PriceFactory,
    PricingTierFactory,
    ProductFactory,
    ReviewFactory,
    VariantFactory,
)
from catalog.models import Product, ProductStatus
from core.models import AuditLog

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalog/product/"


def _action(client, action, products):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [p.pk for p in products]})


@pytest.mark.parametrize(
    "model",
    [
        "category",
        "product",
        "price",
        "variant",
        "pricingtier",
        "collection",
        "plan",
        "review",
        "reviewvote",
    ],
)
def test_every_catalog_admin_page_loads_with_search_and_add(admin_client_user, model):
    plan = PlanFactory()
    price = PriceFactory(product=plan.product, tiers_mode="volume")
    PricingTierFactory(price=price)
    VariantFactory(product=plan.product)
    ReviewFactory(product=plan.product)
    CollectionItemFactory(product=plan.product)
    CategoryFactory(parent=CategoryFactory())
    assert admin_client_user.get(f"/admin/catalog/{model}/", {"q": "x"}).status_code == 200
    assert admin_client_user.get(f"/admin/catalog/{model}/").status_code == 200
    if model not in ("review", "reviewvote"):
        assert admin_client_user.get(f"/admin/catalog/{model}/add/").status_code == 200


def test_product_change_page_has_inlines_tiers_and_public_link(admin_client_user):
    product = ProductFactory(slug="kit")
    price = PriceFactory(product=product, tiers_mode="graduated", nickname="Seats")
    PricingTierFactory(price=price, up_to=5, unit_amount=500)
    VariantFactory(product=product, sku="KIT-P")
    html = admin_client_user.get(f"{CHANGELIST}{product.pk}/change/").content.decode()
    assert "KIT-P" in html and "Seats" in html and "up to 5: $5.00" in html
    assert 'href="/catalog/kit/"' in html


def test_publish_action_publishes_drafts_through_the_service(admin_client_user, admin_user):
    drafts = [DraftProductFactory(), DraftProductFactory()]
    response = _action(admin_client_user, "publish", drafts)
    assert response.status_code == 302
    for product in drafts:
        product.refresh_from_db()
        assert product.status == ProductStatus.PUBLISHED and product.published_at
    assert AuditLog.objects.filter(action="STATUS_CHANGE", actor=admin_user).count() == 2


def test_archive_feature_unfeature_and_duplicate_actions(admin_client_user):
    product = ProductFactory(slug="kit")
    _action(admin_client_user, "feature", [product])
    product.refresh_from_db()
    assert product.featured
    _action(admin_client_user, "unfeature", [product])
    product.refresh_from_db()
    assert not product.featured
    _action(admin_client_user, "archive", [product])
    product.refresh_from_db()
    assert product.status == ProductStatus.ARCHIVED
    _action(admin_client_user, "duplicate", [product])
    copy = Product.objects.get(slug="kit-copy")
    assert copy.status == ProductStatus.DRAFT


def test_delete_in_the_console_is_a_soft_delete(admin_client_user):
    product = ProductFactory()
    response = admin_client_user.post(f"{CHANGELIST}{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()
    assert Product.all_objects.get(pk=product.pk).deleted_at is not None
    html = admin_client_user.get(CHANGELIST, {"deleted": "yes"}).content.decode()
    assert product.name in html
    _action(admin_client_user, "restore", [Product.all_objects.get(pk=product.pk)])
    assert Product.objects.filter(pk=product.pk).exists()


def test_editing_a_product_in_the_console_is_audited(admin_client_user, admin_user):
    product = DraftProductFactory(name="Old name", slug="old")
    page = admin_client_user.get(f"{CHANGELIST}{product.pk}/change/")
    assert page.status_code == 200
    data = {
        "name": "New name",
        "slug": "old",
        "type": "ONE_TIME",
        "short_description": "",
        "description": "",
        "tags": "",
        "images": "[]",
        "files": "[]",
        "metadata": "{}",
        "seo_title": "",
        "seo_description": "",
        "tax_rate": "0",
        "credits_granted": "0",
        "trial_days": "0",
        "stock_quantity": "0",
        "low_stock_threshold": "0",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
    }
    response = admin_client_user.post(f"{CHANGELIST}{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    product.refresh_from_db()
    assert product.name == "New name" and product.status == ProductStatus.DRAFT
    row = AuditLog.objects.get(action="UPDATE", resource_id=str(product.pk), actor=admin_user)
    assert row.old_values["name"] == "Old name" and row.new_values["name"] == "New name"
    assert "status" not in row.new_values


def test_plan_admin_refuses_a_price_of_another_product(admin_client_user):
    plan = PlanFactory()
    foreign = PriceFactory(type="RECURRING", interval="month")
    data = {
        "name": plan.name,
        "slug": plan.slug,
        "tagline": "",
        "product": plan.product.pk,
        "active": "on",
        "sort_order": "0",
        "billing_source": "stripe",
        "monthly_price": foreign.pk,
        "yearly_price": plan.yearly_price.pk,
        "credits_per_period": "10",
        "trial_credits": "0",
        "entitlements": "[]",
        "feature_cost_overrides": "{}",
        "storage_quota_bytes": "",
        "badge": "",
        "cta_type": "subscribe",
        "cta_label": "",
        "cta_url": "",
    }
    response = admin_client_user.post(f"/admin/catalog/plan/{plan.pk}/change/", data)
    assert response.status_code == 200
    assert "Choose a price of this plan" in response.content.decode()
    plan.refresh_from_db()
    assert plan.monthly_price_id != foreign.pk


def test_customers_cannot_open_the_catalog_console(customer_client):
    response = customer_client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_adding_a_price_inline_is_audited(admin_client_user, admin_user):
    product = DraftProductFactory(slug="kit")
    data = {
        "name": product.name,
        "slug": "kit",
        "type": "ONE_TIME",
        "short_description": product.short_description,
        "description": product.description,
        "tags": "",
        "images": "[]",
        "files": "[]",
        "metadata": "{}",
        "seo_title": "",
        "seo_description": "",
        "tax_rate": "0",
        "credits_granted": "0",
        "trial_days": "0",
        "stock_quantity": "0",
        "low_stock_threshold": "0",
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "0",
        "prices-0-nickname": "Std",
        "prices-0-unit_amount": "2500",
        "prices-0-currency": "usd",
        "prices-0-type": "ONE_TIME",
        "prices-0-interval_count": "1",
        "prices-0-active": "on",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
    }
    response = admin_client_user.post(f"{CHANGELIST}{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    price = product.prices.get()
    assert price.unit_amount == 2500
    assert AuditLog.objects.filter(
        action="CREATE", resource_type="catalog.Price", resource_id=str(price.pk), actor=admin_user
    ).exists()


def test_negative_price_in_the_console_is_a_form_error(admin_client_user):
    product = DraftProductFactory(slug="kit")
    response = admin_client_user.post(
        "/admin/catalog/price/add/",
        {
            "product": product.pk,
            "nickname": "",
            "unit_amount": "-1",
            "currency": "usd",
            "type": "ONE_TIME",
            "interval_count": "1",
            "active": "on",
            "tiers-TOTAL_FORMS": "0",
            "tiers-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not product.prices.exists()


def test_recurring_price_without_interval_is_a_form_error_not_a_crash(admin_client_user):
    product = DraftProductFactory(slug="kit")
    response = admin_client_user.post(
        "/admin/catalog/price/add/",
        {
            "product": product.pk,
            "nickname": "",
            "unit_amount": "100",
            "currency": "usd",
            "type": "RECURRING",
            "interval": "",
            "interval_count": "1",
            "active": "on",
            "tiers-TOTAL_FORMS": "0",
            "tiers-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "A recurring price needs an interval." in response.content.decode()
    assert not product.prices.exists()


def _price_form(product, tiers_mode, tiers):
    data = {
        "product": product.pk,
        "nickname": "Tiered",
        "unit_amount": "0",
        "currency": "usd",
        "type": "ONE_TIME",
        "interval_count": "1",
        "active": "on",
        "tiers_mode": tiers_mode,
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
    }
    for i, (up_to, unit_amount) in enumerate(tiers):
        data |= {
            f"tiers-{i}-up_to": up_to,
            f"tiers-{i}-unit_amount": unit_amount,
            f"tiers-{i}-flat_amount": "0",
        }
    return data


def test_tiered_price_must_end_with_an_open_ended_tier(admin_client_user):
    product = DraftProductFactory(slug="kit")
    response = admin_client_user.post(
        "/admin/catalog/price/add/", _price_form(product, "volume", [("5", "500")])
    )
    assert response.status_code == 200
    assert "exactly one last tier" in response.content.decode()
    assert not product.prices.exists()
    response = admin_client_user.post(
        "/admin/catalog/price/add/", _price_form(product, "volume", [("5", "500"), ("", "400")])
    )
    assert response.status_code == 302
    assert product.prices.get().tiers.count() == 2


def test_tiers_without_a_tiers_mode_are_refused(admin_client_user):
    product = DraftProductFactory(slug="kit")
    response = admin_client_user.post(
        "/admin/catalog/price/add/", _price_form(product, "", [("", "400")])
    )
    assert response.status_code == 200
    assert "Set the tiers mode" in response.content.decode()
    assert not product.prices.exists()
