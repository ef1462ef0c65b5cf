from django.urls import path

from apps.executions import api

urlpatterns = [
    path("workflows/<int:pk>/execute", api.ExecuteAPI.as_view(), name="api-workflow-execute"),
    path("executions", api.ExecutionListAPI.as_view(), name="api-executions"),
    path("executions/<int:pk>", api.ExecutionDetailAPI.as_view(), name="api-execution"),
    path(
        "executions/<int:pk>/cancel", api.ExecutionCancelAPI.as_view(), name="api-execution-cancel"
    ),
    path(
        "executions/<int:pk>/resume", api.ExecutionResumeAPI.as_view(), name="api-execution-resume"
    ),
    path(
        "executions/<int:pk>/report", api.ExecutionReportAPI.as_view(), name="api-execution-report"
    ),
]
