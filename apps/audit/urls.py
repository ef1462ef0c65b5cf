from django.urls import path

from apps.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_list, name="list"),
    path("export.csv", views.audit_export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", views.audit_export, {"fmt": "json"}, name="export_json"),
    path("unmask/", views.unmask_page, name="unmask"),
    path("<int:seq>/", views.audit_detail, name="detail"),
]
