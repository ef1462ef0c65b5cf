from django.urls import path

from apps.executions import views

app_name = "executions"

urlpatterns = [
    path("", views.execution_list, name="list"),
    path("<int:pk>/", views.execution_detail, name="detail"),
    path("<int:pk>/live/", views.execution_live, name="live"),
    path("<int:pk>/cancel/", views.execution_cancel_view, name="cancel"),
    path("<int:pk>/resume/", views.execution_resume_view, name="resume"),
    path("<int:pk>/report.json", views.execution_report, {"fmt": "json"}, name="report_json"),
    path("<int:pk>/report.csv", views.execution_report, {"fmt": "csv"}, name="report_csv"),
    path("run/<int:pk>/", views.execution_start_view, name="run"),
]
