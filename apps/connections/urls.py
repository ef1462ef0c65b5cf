from django.urls import path

from apps.connections import views

app_name = "connections"

urlpatterns = [
    path("", views.connection_list, name="list"),
    path("new/", views.connection_form, name="create"),
    path("test/", views.connection_test_form, name="test_form"),
    path("<int:pk>/edit/", views.connection_form, name="edit"),
    path("<int:pk>/edit/test/", views.connection_test_form, name="test_form_existing"),
    path("<int:pk>/test/", views.connection_test, name="test"),
    path("<int:pk>/delete/", views.connection_delete, name="delete"),
    path("<int:pk>/browse/", views.schema_browser, name="browse"),
    path("<int:pk>/browse/tables/", views.schema_tables, name="browse_tables"),
    path("<int:pk>/browse/columns/", views.schema_columns, name="browse_columns"),
]
