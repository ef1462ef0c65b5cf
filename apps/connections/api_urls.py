from django.urls import path

from apps.connections import api

urlpatterns = [
    path("connections", api.ConnectionListAPI.as_view(), name="api-connections"),
    path(
        "connections/test",
        api.ConnectionTestUnsavedAPI.as_view(),
        name="api-connection-test-unsaved",
    ),
    path("connections/<int:pk>", api.ConnectionDetailAPI.as_view(), name="api-connection"),
    path("connections/<int:pk>/test", api.ConnectionTestAPI.as_view(), name="api-connection-test"),
    path("connections/<int:pk>/schemas", api.SchemasAPI.as_view(), name="api-connection-schemas"),
    path(
        "connections/<int:pk>/schemas/<str:schema>/tables",
        api.TablesAPI.as_view(),
        name="api-connection-tables",
    ),
    path(
        "connections/<int:pk>/schemas/<str:schema>/tables/<str:table>/columns",
        api.ColumnsAPI.as_view(),
        name="api-connection-columns",
    ),
]
