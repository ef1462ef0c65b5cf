from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from apps.accounts.api import LoginAPI, MeAPI
from apps.core import views as core_views

api_patterns = [
    path("auth/login", LoginAPI.as_view(), name="api-login"),
    path("auth/me", MeAPI.as_view(), name="api-me"),
    path("health/db", core_views.HealthDBAPI.as_view(), name="api-health-db"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", core_views.api_docs, name="api-docs"),
    path("", include("apps.connections.api_urls")),
    path("", include("apps.workflows.api_urls")),
    path("", include("apps.executions.api_urls")),
    path("", include("apps.schedules.api_urls")),
    path("", include("apps.notifications.api_urls")),
    path("", include("apps.audit.api_urls")),
    # Last: any other /api/ path answers the JSON envelope, also with DEBUG on (where Django
    # would show its HTML page instead of calling handler404).
    re_path(r"", core_views.api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("api/", include(api_patterns)),
    path("accounts/", include("apps.accounts.urls")),
    path("connections/", include("apps.connections.urls")),
    path("workflows/", include("apps.workflows.urls")),
    path("executions/", include("apps.executions.urls")),
    path("schedules/", include("apps.schedules.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("audit/", include("apps.audit.urls")),
    path("", include("apps.executions.dashboard")),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
