"""Reads of the catalog that pages and the API share.

Every customer-facing query starts from ``visible_products()``: PUBLISHED and not deleted.
DRAFT and ARCHIVED products exist only in the staff console.
"""

import re
from collections import defaultdict
from typing import TYPE_CHECKING, TypedDict, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, JSONObject, Least

from catalog.models import (
    SEARCH_CONFIG,
    Category,
    Collection,
    CollectionItem,
    Plan,
    Price,
    Product,
    ProductStatus,
    Review,
    Variant,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Word characters only: whatever else a visitor types never reaches to_tsquery's syntax.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Below this, a trigram match on the name is noise rather than a typo.
TRIGRAM_THRESHOLD = 0.4
MAX_QUERY_LENGTH = 200


def visible_products() -> QuerySet[Product]:
    """What customers and the public API may see: published and not (soft-)deleted."""
    return Product.objects.filter(status=ProductStatus.PUBLISHED, deleted_at__isnull=True)


def get_visible_product(*, slug: str) -> Product:
    """One visible product by slug; raises Product.DoesNotExist otherwise."""
    return visible_products().get(slug=slug)


# --- prices ---------------------------------------------------------------------------------


def _cheapest_price() -> QuerySet[Price]:
    return Price.objects.filter(
        product=OuterRef("pk"), active=True, tiers_mode__isnull=True
    ).order_by("unit_amount", "id")


def _cheapest_variant() -> QuerySet[Variant]:
    return Variant.objects.filter(product=OuterRef("pk"), available=True).order_by(
        "price_amount", "id"
    )


class FromPrice(TypedDict):
    from_amount: int | None
    from_currency: str | None


_P = TypeVar("_P", bound=Product)


def with_from_price(queryset: QuerySet[Product]) -> "QuerySet[WithAnnotations[Product, FromPrice]]":
    """Annotate ``from_amount`` (cheapest active flat price or available variant, minor units)
    and ``from_currency``. Tiered prices are left out: their cost depends on the quantity."""
    price_amount = Subquery(
        _cheapest_price().values("unit_amount")[:1], output_field=BigIntegerField()
    )
    variant_amount = Subquery(
        _cheapest_variant().values("price_amount")[:1], output_field=BigIntegerField()
    )
    return queryset.annotate(
        # PostgreSQL's LEAST ignores NULLs: a product with only variants still gets a price.
        from_amount=Least(price_amount, variant_amount),
        from_currency=Coalesce(
            Subquery(_cheapest_price().values("currency")[:1]),
            Subquery(_cheapest_variant().values("currency")[:1]),
        ),
    )


# --- search ---------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return _WORD.findall((text or "")[:MAX_QUERY_LENGTH])


def build_search_query(text: str) -> SearchQuery | None:
    """The visitor's words as a tsquery, or None when nothing searchable is left.

    Web-search syntax handles the complete words ("quoted phrases", -exclusions, or); the
    words joined with AND, the last one prefix-matched (``wid:*``), catch a word still being
    typed. Only word characters reach the raw tsquery, so no input can break its syntax.
    """
    words = _words(text)
    if not words:
        return None
    web = SearchQuery(text[:MAX_QUERY_LENGTH], search_type="websearch", config=SEARCH_CONFIG)
    if (text or "")[-1:].isspace():
        return web
    prefix = " & ".join([*words[:-1], f"{words[-1]}:*"])
    return web | SearchQuery(prefix, search_type="raw", config=SEARCH_CONFIG)


def search_products(queryset: QuerySet[_P], text: str) -> QuerySet[_P]:
    """Filter ``queryset`` to matches for ``text`` and annotate ``rank`` (higher is better).

    Full-text rank on the stored, weighted vector (name A > short description and tags B >
    description C). Only when nothing matches that way (a typo, usually) does it fall back
    to trigram similarity with the name, so a misspelt name still finds the product while
    exact searches keep their precision. Empty or wordless input returns no rows.
    Costs one extra query (the "anything matched?" check), whatever the page size.
    """
    query = build_search_query(text)
    if query is None:
        return queryset.none()
    # The rows stay ``queryset``'s (with ``from_amount`` when it has it); mypy's Django plugin
    # cannot say so of an annotation over a type variable.
    matches: QuerySet[_P] = queryset.filter(search_vector=query).annotate(
        rank=SearchRank(F("search_vector"), query)
    )
    if matches.exists():
        return matches.order_by("-rank", "name", "id")
    cleaned = " ".join(_words(text))
    similar: QuerySet[_P] = queryset.annotate(rank=TrigramWordSimilarity(cleaned, "name"))
    return similar.filter(rank__gte=TRIGRAM_THRESHOLD).order_by("-rank", "name", "id")


# --- categories -----------------------------------------------------------------------------


def category_tree() -> list[Category]:
    """Root categories with ``tree_children`` filled in recursively, in one query."""
    categories = list(Category.objects.order_by("sort_order", "name"))
    by_parent: dict[int | None, list[Category]] = defaultdict(list)
    for category in categories:
        by_parent[category.parent_id].append(category)
    for category in categories:
        # A per-call attribute the templates read, not a field: the stubs cannot know it.
        category.tree_children = by_parent.get(category.pk, [])  # type: ignore[attr-defined]
    return by_parent.get(None, [])


def category_with_descendant_ids(category: Category) -> list[int]:
    """The category's id and every descendant's, without one query per level."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    found, stack = [], [category.pk]
    while stack:
        pk = stack.pop()
        if pk in found:  # a cycle made by hand in the database must not loop forever
            continue
        found.append(pk)
        stack.extend(children.get(pk, []))
    return found


def products_in_category(queryset: QuerySet[_P], category: Category) -> QuerySet[_P]:
    ids = category_with_descendant_ids(category)
    return queryset.filter(
        pk__in=Product.categories.through.objects.filter(category_id__in=ids).values("product_id")
    )


def category_ancestors(category: Category) -> list[Category]:
    """Root first, for breadcrumbs."""
    by_id = {c.pk: c for c in Category.objects.all()}
    chain: list[Category] = []
    current = by_id.get(category.parent_id) if category.parent_id is not None else None
    while current is not None and current not in chain:
        chain.insert(0, current)
        current = by_id.get(current.parent_id) if current.parent_id is not None else None
    return chain


# --- lists for pages and the API ----------------------------------------------------------

SORTS = {
    "relevance": None,  # search rank when searching, else featured then newest
    "newest": ("-published_at", "-id"),
    "name": ("name", "id"),
    "price_asc": (F("from_amount").asc(nulls_last=True), "id"),
    "price_desc": (F("from_amount").desc(nulls_last=True), "id"),
    "rating": (F("rating_average").desc(nulls_last=True), "-rating_count", "id"),
}


def product_list(
    *,
    search: str = "",
    category: Category | None = None,
    type: str = "",
    tag: str = "",
    featured: bool | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    sort: str = "relevance",
) -> QuerySet[Product]:
    """Visible products with ``from_amount``/``from_currency`` annotated and their categories
    prefetched: a page of any size costs the same number of queries."""
    queryset = with_from_price(visible_products())
    if category is not None:
        queryset = products_in_category(queryset, category)
    if type:
        queryset = queryset.filter(type=type)
    if tag:
        queryset = queryset.filter(tags__contains=[tag])
    if featured is not None:
        queryset = queryset.filter(featured=featured)
    if min_price is not None:
        queryset = queryset.filter(from_amount__gte=min_price)
    if max_price is not None:
        queryset = queryset.filter(from_amount__lte=max_price)
    if search.strip():
        queryset = search_products(queryset, search)
    ordering = SORTS.get(sort)
    if ordering:
        queryset = queryset.order_by(*ordering)
    elif not search.strip():
        queryset = queryset.order_by("-featured", "-published_at", "-id")
    return queryset.prefetch_related(
        Prefetch("categories", queryset=Category.objects.order_by("sort_order", "name"))
    )


# What the API's product list shows of a product's own columns.
LIST_COLUMNS = (
    "id",
    "slug",
    "name",
    "short_description",
    "type",
    "tags",
    "featured",
    "images",
    "credits_granted",
    "published_at",
    "rating_average",
    "rating_count",
)


def _category_refs() -> ArraySubquery:
    """The product's categories as ``[{"slug", "name"}]`` in menu order, inside the row."""
    return ArraySubquery(
        Category.objects.filter(products=OuterRef("pk"))
        .order_by("sort_order", "name", "id")
        .values(ref=JSONObject(slug="slug", name="name"))
    )


def product_list_rows() -> QuerySet:
    """Visible products as dicts of what the API's list shows (``LIST_COLUMNS``,
    ``from_amount``/``from_currency``, ``category_refs``), featured then newest: one query
    for a page of any size, and no model instances to build."""
    return (
        with_from_price(visible_products())
        .annotate(category_refs=_category_refs())
        .order_by("-featured", "-published_at", "-id")
        .values(*LIST_COLUMNS, "from_amount", "from_currency", "category_refs")
    )


def product_detail_queryset() -> QuerySet[Product]:
    """Visible products with everything the detail page and API show, prefetched."""
    return with_from_price(visible_products()).prefetch_related(
        Prefetch(
            "prices",
            queryset=Price.objects.filter(active=True)
            .order_by("type", "interval", "unit_amount", "id")
            .prefetch_related("tiers"),
        ),
        Prefetch("variants", queryset=Variant.objects.filter(available=True)),
        Prefetch("categories", queryset=Category.objects.order_by("sort_order", "name")),
    )


def all_tags() -> list[str]:
    """Distinct tags of visible products, for the filter menu."""
    rows = visible_products().values_list("tags", flat=True)
    return sorted({tag for tags in rows for tag in tags})


def visible_collections() -> QuerySet[Collection]:
    """Active collections with their visible products in curated order (``visible_items``)."""
    items = (
        CollectionItem.objects.filter(
            product__status=ProductStatus.PUBLISHED, product__deleted_at__isnull=True
        )
        .select_related("product")
        .order_by("position", "id")
    )
    return Collection.objects.filter(active=True).prefetch_related(
        Prefetch("items", queryset=items, to_attr="visible_items")
    )


def collection_products(collection: Collection) -> QuerySet[Product]:
    """The collection's visible products in curated order, annotated like ``product_list``."""
    return (
        with_from_price(visible_products())
        .filter(collection_items__collection=collection)
        .order_by("collection_items__position", "id")
        .prefetch_related("categories")
    )


def active_plans() -> QuerySet[Plan]:
    """Plans on the pricing page: active, their product visible, in sort order, with the
    visible products whose downloads they include (``included_downloads_shown``)."""
    shown = Product.objects.filter(
        status=ProductStatus.PUBLISHED, deleted_at__isnull=True
    ).order_by("name")
    return (
        Plan.objects.filter(
            active=True, product__status=ProductStatus.PUBLISHED, product__deleted_at__isnull=True
        )
        .select_related("product", "monthly_price", "yearly_price")
        .prefetch_related(
            Prefetch("included_downloads", queryset=shown, to_attr="included_downloads_shown")
        )
        .order_by("sort_order", "id")
    )


def yearly_saving(plan: Plan) -> int | None:
    """What paying yearly saves over twelve monthly payments, in minor units, or None."""
    monthly, yearly = plan.monthly_price, plan.yearly_price
    if not monthly or not yearly or monthly.currency != yearly.currency:
        return None
    saving = monthly.unit_amount * 12 - yearly.unit_amount
    return saving if saving > 0 else None


def yearly_saving_percent(plan: Plan) -> int | None:
    saving = yearly_saving(plan)
    monthly = plan.monthly_price
    if saving is None or monthly is None:  # no saving without a monthly price
        return None
    return round(saving * 100 / (monthly.unit_amount * 12))


# --- reviews --------------------------------------------------------------------------------


def product_reviews(product: Product) -> QuerySet[Review]:
    return (
        Review.objects.filter(product=product)
        .select_related("author")
        .order_by("-created_at", "-id")
    )


def rating_summary(product: Product) -> dict:
    """``{"average": 4.5 | None, "count": 2, "distribution": {1: 0, ..., 5: 1},
    "verified_count": 2, "verified_average": 4.5 | None, "unverified_count": 1}``.

    The published rating (average, count, distribution) counts only verified reviews, by
    customers who paid for the product, like the product's own figures (``refresh_ratings``);
    ``verified_*`` repeat them for older clients. ``unverified_count``: reviews listed with the
    others, marked not verified, that move none of the figures."""
    distribution = dict.fromkeys(range(1, 6), 0)
    unverified = 0
    rows = (
        Review.objects.filter(product=product)
        .order_by()
        .values("rating", "verified")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["verified"]:
            distribution[row["rating"]] += row["n"]
        else:
            unverified += row["n"]
    count = sum(distribution.values())
    total = sum(rating * n for rating, n in distribution.items())
    average = round(total / count, 2) if count else None
    return {
        "average": average,
        "count": count,
        "distribution": distribution,
        "verified_count": count,
        "verified_average": average,
        "unverified_count": unverified,
    }


def plan_cta(plan: Plan, interval: str = "month") -> dict:
    """The pricing page's call to action: type, label and where it leads.

    A "subscribe" plan (Stripe or manual billing) leads to billing's subscribe page for the
    chosen interval; "contact" and "link" plans lead to their own ``cta_url``.
    """
    interval = interval if interval in ("month", "year") else "month"
    if plan.cta_type == Plan.CtaType.SUBSCRIBE:
        url = f"/billing/subscribe/{plan.slug}/?interval={interval}"
        default_label = "Start free" if _is_free(plan) else f"Choose {plan.name}"
    else:
        url = plan.cta_url or "/help/"
        default_label = "Contact sales" if plan.cta_type == Plan.CtaType.CONTACT else "Learn more"
    return {"type": plan.cta_type, "label": plan.cta_label or default_label, "url": url}


def _is_free(plan: Plan) -> bool:
    prices = [p for p in (plan.monthly_price, plan.yearly_price) if p is not None]
    return bool(prices) and all(p.unit_amount == 0 for p in prices)
