from django.urls import path

from catalog import api

urlpatterns = [
    path("products/", api.ProductListView.as_view(), name="catalog-product-list"),
    path("products/<slug:slug>/", api.ProductDetailView.as_view(), name="catalog-product-detail"),
    path(
        "products/<slug:slug>/reviews/",
        api.ProductReviewsView.as_view(),
        name="catalog-product-reviews",
    ),
    path(
        "reviews/<int:pk>/helpful/", api.ReviewHelpfulView.as_view(), name="catalog-review-helpful"
    ),
    path("categories/", api.CategoryTreeView.as_view(), name="catalog-categories"),
    path("collections/", api.CollectionListView.as_view(), name="catalog-collection-list"),
    path(
        "collections/<slug:slug>/",
        api.CollectionDetailView.as_view(),
        name="catalog-collection-detail",
    ),
    path("plans/", api.PlanListView.as_view(), name="catalog-plans"),
]
