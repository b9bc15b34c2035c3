"""Public, read-only catalog API (plus writing one's own review).

Every product query starts from ``selectors.visible_products()``; list endpoints prefetch or
annotate everything they show, so their query count does not grow with the page size. The
product list and detail answer anonymous readers from a short cache (catalog.public_cache).
"""

import json
from collections.abc import Sequence

import django_filters
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import filters, generics, permissions, serializers, status
from rest_framework.response import Response

from accounts.entitlements import RequiresEntitlement
from catalog import list_json, public_cache, selectors, services
from catalog.models import (
    Category,
    Product,
    ProductType,
    Review,
)
from catalog.paging import CountInPageQueryPagination
from catalog.serializers import (
    CategoryTreeSerializer,
    CollectionSerializer,
    PlanSerializer,
    ProductDetailSerializer,
    ProductListSerializer,
    ReviewInputSerializer,
    ReviewSerializer,
)
from core.api import NotFound

# --- filters --------------------------------------------------------------------------------


# spectacular would take the type (boolean) from the model field and the values from the
# choices (strings): a schema that contradicts itself. The query value is the string.
@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class TrueFalseFilter(django_filters.ChoiceFilter):
    pass


class ProductFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Full-text search; the last word is a prefix.",
    )
    category = django_filters.CharFilter(
        method="filter_category", help_text="Category slug; includes its descendants."
    )
    type = django_filters.ChoiceFilter(choices=ProductType.choices)
    tag = django_filters.CharFilter(method="filter_tag", max_length=50)
    featured = TrueFalseFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_featured",
        help_text="true or false.",
    )
    min_price = django_filters.NumberFilter(
        field_name="from_amount",
        lookup_expr="gte",
        min_value=0,
        help_text="Minor units, against the from-price.",
    )
    max_price = django_filters.NumberFilter(
        field_name="from_amount", lookup_expr="lte", min_value=0, help_text="Minor units."
    )

    class Meta:
        model = Product
        fields = ["search", "category", "type", "tag", "featured", "min_price", "max_price"]

    def filter_search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return selectors.search_products(queryset, value)

    def filter_category(self, queryset, name, value):
        category = Category.objects.filter(slug=value).first()
        if category is None:
            return queryset.none()
        return selectors.products_in_category(queryset, category)

    def filter_featured(self, queryset, name, value):
        return queryset.filter(featured=value == "true")

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value])


class FilterWhenAskedBackend(DjangoFilterBackend):
    """django-filter, skipped when the query string names none of the view's filters: it
    builds a form of every filter for each request, which costs about as much as the page's
    own query, to find nothing to do."""

    def filter_queryset(self, request, queryset, view):
        if request.query_params.keys().isdisjoint(view.filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


# --- views ----------------------------------------------------------------------------------


class PublicMixin:
    # As APIView declares it, so the views that mix this in agree with their base.
    permission_classes: Sequence[
        type[permissions.BasePermission]
        | permissions.OperandHolder
        | permissions.SingleOperandHolder
    ] = [permissions.AllowAny, RequiresEntitlement]


class CachedForAnonymousMixin:
    """GET answers anonymous readers from catalog.public_cache."""

    def get(self, request, *args, **kwargs):
        answer = super().get
        return public_cache.cached_for_anonymous(request, lambda: answer(request, *args, **kwargs))


class ProductListView(CachedForAnonymousMixin, PublicMixin, generics.ListAPIView):
    """Published products. Without ``ordering``: best match first when searching, else
    featured then newest."""

    serializer_class = ProductListSerializer
    pagination_class = CountInPageQueryPagination
    filter_backends = [FilterWhenAskedBackend, filters.OrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["name", "published_at", "from_amount", "rating_average"]
    # Built once; DRF's get_queryset() clones it for each request (building it is a good
    # part of the ORM's cost for this query).
    queryset = selectors.product_list_rows()

    def list(self, request, *args, **kwargs):
        # The plain listing answered in JSON: the page's JSON comes from the database
        # (catalog.list_json); anything else goes through the serializer.
        if request.accepted_renderer.format != "json" or not list_json.applies():
            return super().list(request, *args, **kwargs)
        paginator = self.paginator
        paginator.page_json = list_json.ProductPageJSON
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        if not paginator.json_page:
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        next_link = json.dumps(paginator.get_next_link(), ensure_ascii=False)
        previous_link = json.dumps(paginator.get_previous_link(), ensure_ascii=False)
        body = (
            f'{{"count":{paginator.page.paginator.count},"next":{next_link},'
            f'"previous":{previous_link},'
            f'"results":[{",".join(list_json.product_json(row) for row in page)}]}}'
        )
        return HttpResponse(body, content_type="application/json")


class ProductDetailView(CachedForAnonymousMixin, PublicMixin, generics.RetrieveAPIView):
    serializer_class = ProductDetailSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.product_detail_queryset()


class CategoryTreeView(PublicMixin, generics.GenericAPIView):
    serializer_class = CategoryTreeSerializer
    queryset = Category.objects.all()
    pagination_class = None

    @extend_schema(responses=CategoryTreeSerializer(many=True))
    def get(self, request):
        return Response(self.get_serializer(selectors.category_tree(), many=True).data)


class CollectionListView(PublicMixin, generics.ListAPIView):
    serializer_class = CollectionSerializer

    def get_queryset(self):
        return selectors.visible_collections()


class CollectionDetailView(PublicMixin, generics.RetrieveAPIView):
    serializer_class = CollectionSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.visible_collections()


class PlanListView(PublicMixin, generics.ListAPIView):
    """Active plans in pricing-page order; unpaginated (a pricing page shows them all)."""

    serializer_class = PlanSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.active_plans()


class ProductReviewsView(generics.ListCreateAPIView):
    """Reviews of a published product; POST writes the caller's one review of it."""

    serializer_class = ReviewSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    def get_product(self) -> Product:
        product = selectors.visible_products().filter(slug=self.kwargs["slug"]).first()
        if product is None:
            raise NotFound("Product not found.")
        return product

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no slug
            return Review.objects.none()
        return selectors.product_reviews(self.get_product())

    @extend_schema(request=ReviewInputSerializer, responses={201: ReviewSerializer})
    def post(self, request, slug):
        product = self.get_product()
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.create_review(author=request.user, product=product, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class HelpfulVoteSerializer(serializers.Serializer):
    helpful_votes = serializers.IntegerField()
    counted = serializers.BooleanField(help_text="False when this user had already voted.")


class ReviewHelpfulView(generics.GenericAPIView):
    """Mark a review helpful: once per user, never one's own review."""

    serializer_class = HelpfulVoteSerializer
    queryset = Review.objects.all()

    @extend_schema(request=None, responses={200: HelpfulVoteSerializer})
    def post(self, request, pk):
        review = Review.objects.filter(pk=pk).first()
        if review is None:
            raise NotFound("Review not found.")
        review, counted = services.mark_review_helpful(review=review, voter=request.user)
        return Response({"helpful_votes": review.helpful_votes, "counted": counted})
