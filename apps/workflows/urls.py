from django.urls import path

from apps.workflows import views, wizard

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new/", wizard.step_basics, name="create"),
    path("new/step/<int:step>/", views.wizard_step, name="create_step"),
    path("new/tables/", wizard.tables_partial, name="create_tables"),
    path("new/columns/", wizard.columns_partial, name="create_columns"),
    path("new/params/", wizard.rule_row_partial, name="create_params"),
    path("new/preview/", wizard.preview_partial, name="create_preview"),
    path("new/rowcount/", wizard.row_count_partial, name="create_rowcount"),
    path("new/subset/", wizard.subset_estimate_partial, name="create_subset"),
    path("<int:pk>/", views.workflow_detail, name="detail"),
    path("<int:pk>/edit/", wizard.step_basics, name="edit"),
    path("<int:pk>/edit/step/<int:step>/", views.wizard_step, name="edit_step"),
    path("<int:pk>/edit/tables/", wizard.tables_partial, name="edit_tables"),
    path("<int:pk>/edit/columns/", wizard.columns_partial, name="edit_columns"),
    path("<int:pk>/edit/params/", wizard.rule_row_partial, name="edit_params"),
    path("<int:pk>/edit/preview/", wizard.preview_partial, name="edit_preview"),
    path("<int:pk>/edit/rowcount/", wizard.row_count_partial, name="edit_rowcount"),
    path("<int:pk>/edit/subset/", wizard.subset_estimate_partial, name="edit_subset"),
    path("<int:pk>/delete/", views.workflow_delete, name="delete"),
    path("<int:pk>/toggle/", views.workflow_toggle, name="toggle"),
    path("<int:pk>/rotate-key/", views.workflow_rotate_key, name="rotate_key"),
]
