from csp.decorators import csp_update
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config import health
from config.ops import metrics
from config.ops import views as ops_views

# Under /api/ every error answer is JSON in the shared shape (core.api), HTML elsewhere.
handler400 = "core.api.api_bad_request"
handler403 = "core.api.api_permission_denied"
handler404 = "core.api.api_not_found"
handler500 = "config.middleware.server_error"

# Each app owns two URL modules: `urls` (server-rendered pages) and `api_urls` (REST, /api/v1/).
APPS = ["accounts", "catalog", "billing", "credits", "support", "analytics"]

api_patterns: list[URLPattern | URLResolver] = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its start-up script as a file of its own (no inline script, so the
    # CSP's script-src 'self' allows it) and Redoc, both from the sidecar's static files.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Redoc's search runs in a worker it makes from a blob: allowed on this page only.
    path(
        "redoc/",
        csp_update({"worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")
        ),
        name="redoc",
    ),
]
for app in APPS:
    api_patterns.append(path("", include(f"{app}.api_urls")))
api_patterns.append(path("", include("membership.api_urls")))
api_patterns.append(path("", include("files.api_urls")))

urlpatterns = [
    # The shop front is the catalog; there is no separate marketing page.
    path("", RedirectView.as_view(pattern_name="catalog:list"), name="home"),
    path("healthz/", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on their own; the icon is an SVG among the static files.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
    path("metrics", metrics.metrics, name="metrics"),  # Prometheus' default path
    path("ops/", ops_views.ops_page, name="ops"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_patterns, "api"))),
    path("accounts/", include("allauth.urls")),
]
for app in APPS:
    urlpatterns.append(path("", include(f"{app}.urls")))
urlpatterns.append(path("", include("files.urls")))
urlpatterns.append(path("", include("social_signin.urls")))
