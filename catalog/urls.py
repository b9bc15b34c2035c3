from django.urls import path

from catalog import images, views

app_name = "catalog"

urlpatterns = [
    path("catalog/", views.catalog_list, name="list"),
    path("catalog/category/<slug:slug>/", views.category_page, name="category"),
    path("catalog/<slug:slug>/", views.product_detail, name="product"),
    path("catalog/<slug:slug>/reviews/", views.review_create, name="review-create"),
    path(
        "catalog/<slug:slug>/reviews/<int:pk>/helpful/", views.review_helpful, name="review-helpful"
    ),
    path("collections/", views.collection_list, name="collections"),
    path("collections/<slug:slug>/", views.collection_page, name="collection"),
    path("pricing/", views.pricing, name="pricing"),
    path("media/catalog/images/<str:name>", images.image, name="image"),
]
