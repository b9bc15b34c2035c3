"""`manage.py seed_catalog`: the demo catalog (plans, credit packs, products, reviews).

Idempotent: rows are found by slug, SKU, price lookup key or (author, product) and brought up
to date, never duplicated. ``--reset`` deletes every catalog row first and rebuilds it.
"""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from tqdm import tqdm

from accounts.models import StoredFile, User
from catalog import seed_data
from catalog.images import store_demo_images
from catalog.models import (
    Category,
    Collection,
    CollectionItem,
    Plan,
    Price,
    PricingTier,
    Product,
    ProductStatus,
    Review,
    Variant,
)
from catalog.public_cache import catalog_changed
from catalog.services import refresh_ratings

GB = 1024**3


def _images(slug: str, name: str) -> list[dict]:
    # Pictures drawn here (SVG) and kept in the media storage: nothing from another host.
    return store_demo_images(slug, name)


class Command(BaseCommand):
    help = "Create or update the demo catalog (idempotent); --reset rebuilds it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every catalog row first (fails if orders use them).",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            if options["reset"]:
                self._reset()
            categories = self._categories()
            products = self._products(categories)
            plans = self._plans(categories)
            collections = self._collections(products)
            reviews = self._reviews(products)
            refresh_ratings(product_ids=[p.pk for p in products.values()])
            catalog_changed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalog: {len(categories)} categories, {len(products)} products, "
                f"{len(plans)} plans, {len(collections)} collections, {reviews} reviews."
            )
        )

    def _reset(self):
        try:
            Review.objects.all().delete()
            Plan.objects.all().delete()
            CollectionItem.objects.all().delete()
            Collection.objects.all().delete()
            Product.all_objects.update(default_price=None)
            PricingTier.objects.all().delete()
            Variant.objects.all().delete()
            Price.objects.all().delete()
            Product.all_objects.all().delete()
            Category.objects.filter(parent__isnull=False).delete()
            Category.objects.all().delete()
        except ProtectedError as exc:
            raise CommandError(
                "Other records (orders, subscriptions) still refer to catalog rows; "
                "remove them first or seed without --reset."
            ) from exc
        self.stdout.write("Deleted the existing catalog.")

    def _categories(self) -> dict[str, Category]:
        result: dict[str, Category] = {}
        for order, (slug, name, parent, description) in enumerate(seed_data.CATEGORIES):
            result[slug], _ = Category.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": description,
                    "parent": result.get(parent) if parent else None,
                    "sort_order": order,
                },
            )
        return result

    def _products(self, categories) -> dict[str, Product]:
        result = {}
        for spec in tqdm(seed_data.PRODUCTS, desc="products", disable=None):
            result[spec["slug"]] = self._product(spec, categories)
        return result

    def _product(self, spec, categories) -> Product:
        status = spec.get("status", ProductStatus.PUBLISHED)
        existing = Product.all_objects.filter(slug=spec["slug"]).first()
        published_at = existing.published_at if existing and existing.published_at else None
        if status == ProductStatus.PUBLISHED and published_at is None:
            published_at = timezone.now()
        slug = spec["slug"]
        product, _ = Product.all_objects.update_or_create(
            slug=slug,
            defaults={
                "name": spec["name"],
                "type": spec["type"],
                "status": status,
                "published_at": published_at,
                "deleted_at": None,
                "short_description": spec["short_description"],
                "description": spec["description"],
                "tags": spec["tags"],
                "featured": spec.get("featured", False),
                "images": _images(slug, spec["name"]),
                "seo_title": f"{spec['name']} | Demo Store",
                "seo_description": spec["short_description"],
                "tax_rate": "0.2000" if spec["type"] != "SERVICE" else "0",
                "credits_granted": spec.get("credits_granted", 0),
                "download_limit": spec.get("download_limit"),
                "access_duration_days": spec.get("access_duration_days"),
                "track_inventory": spec.get("track_inventory", False),
                "stock_quantity": spec.get("stock_quantity", 0),
                "low_stock_threshold": spec.get("low_stock_threshold", 0),
            },
        )
        product.categories.set([categories[c] for c in spec["categories"]])
        price = self._one_time_price(product, spec)
        if product.default_price_id != price.pk:
            product.default_price = price
            product.save(update_fields=["default_price"])
        if spec.get("licences"):
            self._variants(product, spec["price"])
        if spec.get("download_text") and product.download_file_id is None:
            product.download_file = self._download_file(slug, spec["download_text"])
            product.save(update_fields=["download_file"])
        return product

    def _download_file(self, slug: str, text: str) -> StoredFile:
        """A small text file as the product's download, in the default storage."""
        content = text.encode()
        path = default_storage.save(f"catalog-downloads/{slug}.txt", ContentFile(content))
        return StoredFile.objects.create(
            provider=StoredFile.Provider.LOCAL,
            path=path,
            name=f"{slug}.txt",
            content_type="text/plain",
            size_bytes=len(content),
        )

    def _one_time_price(self, product, spec) -> Price:
        tiers = spec.get("tiers")
        price, _ = Price.objects.update_or_create(
            lookup_key=f"{product.slug}-one-time",
            defaults={
                "product": product,
                "nickname": "Standard",
                "currency": "usd",
                "unit_amount": spec["price"],
                "type": Price.Type.ONE_TIME,
                "interval": None,
                "tiers_mode": tiers[0] if tiers else None,
                "active": True,
            },
        )
        if tiers:
            bounds = []
            for up_to, unit_amount, flat_amount in tiers[1]:
                PricingTier.objects.update_or_create(
                    price=price,
                    up_to=up_to,
                    defaults={"unit_amount": unit_amount, "flat_amount": flat_amount},
                )
                bounds.append(up_to)
            price.tiers.exclude(up_to__in=[b for b in bounds if b is not None]).exclude(
                up_to__isnull=True
            ).delete()
        return price

    def _variants(self, product, base_amount):
        for order, (suffix, name, licence, seats, multiplier) in enumerate(
            seed_data.STANDARD_LICENCES
        ):
            Variant.objects.update_or_create(
                sku=f"{product.slug.upper()[:40]}-{suffix}",
                defaults={
                    "product": product,
                    "name": name,
                    "license_type": licence,
                    "seats": seats,
                    "price_amount": base_amount * multiplier,
                    "currency": "usd",
                    "available": True,
                    "sort_order": order,
                },
            )

    def _plans(self, categories) -> list[Plan]:
        plans = []
        for order, spec in enumerate(seed_data.PLANS):
            slug = f"plan-{spec['slug']}"
            existing = Product.all_objects.filter(slug=slug).first()
            published_at = (existing.published_at if existing else None) or timezone.now()
            product, _ = Product.all_objects.update_or_create(
                slug=slug,
                defaults={
                    "name": f"{spec['name']} plan",
                    "type": Product.Type.SUBSCRIPTION,
                    "status": ProductStatus.PUBLISHED,
                    "published_at": published_at,
                    "deleted_at": None,
                    "short_description": spec["tagline"],
                    "description": f"The {spec['name']} subscription: {spec['credits']} credits "
                    "every month and everything listed on the pricing page.",
                    "tags": ["plan", "subscription"],
                    "trial_days": spec["trial_days"],
                    "images": _images(slug, f"{spec['name']} plan"),
                    "credits_granted": spec["credits"],
                },
            )
            product.categories.set([categories["plans"]])
            monthly = self._recurring(product, spec, "month")
            yearly = self._recurring(product, spec, "year")
            if product.default_price_id != monthly.pk:
                product.default_price = monthly
                product.save(update_fields=["default_price"])
            plan, _ = Plan.objects.update_or_create(
                slug=spec["slug"],
                defaults={
                    "product": product,
                    "name": spec["name"],
                    "tagline": spec["tagline"],
                    "monthly_price": monthly,
                    "yearly_price": yearly,
                    "credits_per_period": spec["credits"],
                    "trial_credits": spec["trial_credits"],
                    "entitlements": spec["entitlements"],
                    "feature_cost_overrides": spec["overrides"],
                    "storage_quota_bytes": spec["storage_gb"] * GB,
                    "badge": spec["badge"],
                    "highlight": spec["highlight"],
                    "cta_type": Plan.CtaType.SUBSCRIBE,
                    "cta_label": spec["cta_label"],
                    "cta_url": "",
                    "sort_order": order,
                    "billing_source": spec["billing_source"],
                    "active": True,
                },
            )
            plan.included_downloads.set(
                Product.all_objects.filter(slug__in=spec.get("included_downloads", ()))
            )
            plans.append(plan)
        return plans

    def _recurring(self, product, spec, interval) -> Price:
        amount = spec["monthly"] if interval == "month" else spec["yearly"]
        price, _ = Price.objects.update_or_create(
            lookup_key=f"plan-{spec['slug']}-{interval}ly",
            defaults={
                "product": product,
                "nickname": f"{spec['name']} {interval}ly",
                "unit_amount": amount,
                "currency": "usd",
                "type": Price.Type.RECURRING,
                "interval": interval,
                "interval_count": 1,
                "tiers_mode": None,
                "active": True,
            },
        )
        return price

    def _collections(self, products) -> list[Collection]:
        collections = []
        for order, (slug, name, description, members) in enumerate(seed_data.COLLECTIONS):
            collection, _ = Collection.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": description,
                    "active": True,
                    "sort_order": order,
                },
            )
            for position, product_slug in enumerate(members):
                CollectionItem.objects.update_or_create(
                    collection=collection,
                    product=products[product_slug],
                    defaults={"position": position},
                )
            collection.items.exclude(product__slug__in=members).delete()
            collections.append(collection)
        return collections

    def _reviewers(self) -> list[User]:
        reviewers = []
        for email, first, last in seed_data.REVIEWERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, None, first_name=first, last_name=last)
            reviewers.append(user)
        return reviewers

    def _reviews(self, products) -> int:
        reviewers = self._reviewers()
        count = 0
        visible = [p for p in products.values() if p.status == ProductStatus.PUBLISHED]
        for index, product in enumerate(tqdm(visible, desc="reviews", disable=None)):
            # A fixed pattern rather than random: re-running gives the same ratings.
            for offset, author in enumerate(reviewers[: 1 + index % len(reviewers)]):
                rating = 5 - ((index + offset) % 4)
                title, body = seed_data.REVIEW_TEXTS[rating]
                Review.objects.update_or_create(
                    author=author,
                    product=product,
                    defaults={
                        "rating": rating,
                        "title": title,
                        "body": body,
                        "helpful_votes": (index * 3 + offset) % 7,
                    },
                )
                count += 1
        return count
