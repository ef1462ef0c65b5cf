from django.urls import path

from apps.schedules import api

urlpatterns = [
    path("schedules", api.SchedulesAPI.as_view(), name="api-schedules"),
    path(
        "workflows/<int:pk>/schedules",
        api.WorkflowSchedulesAPI.as_view(),
        name="api-workflow-schedules",
    ),
    path("schedules/<int:pk>", api.ScheduleDetailAPI.as_view(), name="api-schedule"),
]
