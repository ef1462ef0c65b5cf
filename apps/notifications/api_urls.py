from django.urls import path

from apps.notifications import api

urlpatterns = [
    path(
        "workflows/<int:pk>/notifications",
        api.WorkflowNotificationsAPI.as_view(),
        name="api-workflow-notifications",
    ),
    path("notifications/<int:pk>", api.NotificationDetailAPI.as_view(), name="api-notification"),
    path(
        "executions/<int:pk>/deliveries",
        api.ExecutionDeliveriesAPI.as_view(),
        name="api-execution-deliveries",
    ),
]
