"""Customer pages of the catalog. Every product comes through ``selectors.visible_products``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalog import purchases, selectors, services
from catalog.forms import CatalogFilterForm, ReviewForm
from catalog.models import Category, Collection, ProductType, Review
from catalog.pricing import tier_rows
from core.api import DomainError

PAGE_SIZE = 12
REVIEWS_PAGE_SIZE = 10


def _paginate(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def catalog_list(request):
    form = CatalogFilterForm(request.GET or None)
    filters = (
        form.filters()
        if request.GET
        else {"search": "", "category": None, "type": "", "tag": "", "sort": "relevance"}
    )
    products = selectors.product_list(**filters)
    return render(
        request,
        "catalog/list.html",
        {
            "form": form,
            "filters": filters,
            "page": _paginate(request, products),
            "query_string": _query_without_page(request),
            "categories": selectors.category_tree(),
            "tags": selectors.all_tags(),
            "types": ProductType.choices,
            "featured": selectors.product_list(featured=True)[:4] if not request.GET else [],
        },
    )


def category_page(request, slug):
    category = get_object_or_404(Category, slug=slug)
    products = selectors.product_list(category=category, sort=request.GET.get("sort", ""))
    return render(
        request,
        "catalog/category.html",
        {
            "category": category,
            "ancestors": selectors.category_ancestors(category),
            "children": category.children.all(),
            "page": _paginate(request, products),
            "query_string": _query_without_page(request),
        },
    )


def collection_list(request):
    return render(
        request,
        "catalog/collections.html",
        {
            "collections": selectors.visible_collections(),
        },
    )


def collection_page(request, slug):
    collection = get_object_or_404(Collection, slug=slug, active=True)
    return render(
        request,
        "catalog/collection.html",
        {
            "collection": collection,
            "page": _paginate(request, selectors.collection_products(collection)),
            "query_string": _query_without_page(request),
        },
    )


def _product_context(request, product, review_form=None):
    reviews = selectors.product_reviews(product)
    own_review = None
    if request.user.is_authenticated:
        own_review = reviews.filter(author=request.user).first()
    prices = list(product.prices.all())
    for price in prices:
        price.tier_rows = tier_rows(price) if price.tiers_mode else []
    summary = selectors.rating_summary(product)
    return {
        "product": product,
        "quantity_limit": purchases.quantity_limit(product),
        "prices": prices,
        "variants": list(product.variants.all()),
        "summary": summary,
        "distribution_rows": sorted(summary["distribution"].items(), reverse=True),
        "reviews": _paginate(request, reviews, REVIEWS_PAGE_SIZE),
        "own_review": own_review,
        "review_form": review_form or ReviewForm(),
        "plan": getattr(product, "plan", None)
        if product.type == ProductType.SUBSCRIPTION
        else None,
        **_included_download(request, product),
    }


def _included_download(request, product) -> dict:
    """For a downloadable product: the plans that include its downloads, and whether the
    customer's own plan does (the page offers the download instead of asking to buy)."""
    if not product.download_file_id:
        return {"download_plans": [], "download_included": False}
    included = request.user.is_authenticated and purchases.download_included(
        user=request.user, product=product
    )
    plans = [] if included else list(product.including_plans.filter(active=True))
    return {"download_plans": plans, "download_included": included}


def add_to_cart_refused(request, product_id, errors: dict, quantity: str):
    """The product page again (400) with the add-to-cart form's errors beside its fields and
    what was typed; None when the product is not one the customer can see."""
    product = selectors.product_detail_queryset().filter(pk=product_id).first()
    if product is None:
        return None
    context = _product_context(request, product)
    context.update(add_errors=errors, add_quantity=quantity)
    return render(request, "catalog/detail.html", context, status=400)


def _visible_or_404(slug):
    product = selectors.product_detail_queryset().filter(slug=slug).first()
    if product is None:
        raise Http404("No such product.")
    return product


def product_detail(request, slug):
    product = _visible_or_404(slug)
    return render(request, "catalog/detail.html", _product_context(request, product))


@login_required
@require_POST
def review_create(request, slug):
    product = _visible_or_404(slug)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.create_review(author=request.user, product=product, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Thank you: your review is published.")
            return redirect(f"{product.get_absolute_url()}#reviews")
    return render(
        request, "catalog/detail.html", _product_context(request, product, form), status=400
    )


@login_required
@require_POST
def review_helpful(request, slug, pk):
    product = _visible_or_404(slug)
    review = get_object_or_404(Review, pk=pk, product=product)
    try:
        _, counted = services.mark_review_helpful(review=review, voter=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Thanks for your vote." if counted else "You already marked this review helpful.",
        )
    return redirect(f"{product.get_absolute_url()}#review-{review.pk}")


def pricing(request):
    interval = request.GET.get("interval", "month")
    if interval not in ("month", "year"):
        interval = "month"
    plans = []
    for plan in selectors.active_plans():
        price = plan.yearly_price if interval == "year" else plan.monthly_price
        trial_days = plan.product.trial_days or 0
        if trial_days and request.user.is_authenticated:
            trial_days = purchases.trial_days_for(user=request.user, plan=plan)
        cta = selectors.plan_cta(plan, interval)
        if plan.product.trial_days and not trial_days and "trial" in cta["label"].lower():
            cta["label"] = f"Choose {plan.name}"  # this customer's trial is used
        plans.append(
            {
                "by_invoice": bool(price and price.unit_amount)
                and purchases.sold_by(plan, price) == "manual",
                "trial_days": trial_days,
                "plan": plan,
                "price": price,
                "monthly_equivalent": (
                    plan.yearly_price.unit_amount // 12
                    if interval == "year" and plan.yearly_price
                    else None
                ),
                "saving": selectors.yearly_saving(plan),
                "saving_percent": selectors.yearly_saving_percent(plan),
                "cta": cta,
            }
        )
    best_saving = max((p["saving_percent"] or 0 for p in plans), default=0)
    credit_packs = selectors.product_list(type=ProductType.CREDIT_PACK, sort="price_asc")
    return render(
        request,
        "catalog/pricing.html",
        {
            "plans": plans,
            "interval": interval,
            "best_saving": best_saving,
            "credit_packs": credit_packs,
        },
    )
