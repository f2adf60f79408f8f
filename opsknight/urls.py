from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from opsknight import monitoring
from opsknight.admin import favicon
from opsknight.api.errors import api_not_found

api_v1 = [
    path("", include("incidents.api.urls")),
    path("", include("webhooks.api.urls")),
    path("schema", SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", monitoring.healthz, name="healthz"),
    path("readyz", monitoring.readyz, name="readyz"),
    path("metrics", monitoring.metrics_view, name="metrics"),
    path("api/v1/", include(api_v1)),
    path(
        "api/docs",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
    # Last: any other /api/ path is a JSON 404, with DEBUG on as well as off.
    re_path(r"^api/", api_not_found),
]

handler400 = "opsknight.api.errors.handler400"
handler404 = "opsknight.api.errors.handler404"
handler500 = "opsknight.api.errors.handler500"
