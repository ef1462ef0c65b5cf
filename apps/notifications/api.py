from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.core.envelope import fail, ok
from apps.executions import selectors as execution_selectors
from apps.notifications import services
from apps.notifications.models import Notification
from apps.notifications.selectors import (
    delivery_output,
    execution_deliveries,
    notification_output,
    workflow_notifications,
)
from apps.workflows.models import Workflow


class NotificationInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=["email", "webhook"])
    when = serializers.ChoiceField(choices=["success", "failure", "both"], required=False)
    target = serializers.CharField(help_text="E-mail addresses (comma-separated) or the URL.")


class WorkflowNotificationsAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk)
        return ok([notification_output(n) for n in workflow_notifications(workflow=workflow)])

    @extend_schema(request=NotificationInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk)
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            return fail(400, "Send a JSON object with channel, when and target.")
        try:
            notification, secret = services.notification_create(
                workflow=workflow,
                by=request.user,
                channel=str(body.get("channel") or ""),
                when=str(body.get("when") or "failure"),
                target=str(body.get("target") or ""),
                request=request,
            )
        except PermissionDenied as exc:
            return fail(403, str(exc))
        except services.NotificationInvalid as exc:
            details = [{"field": f, "issue": issue} for f, issue in exc.errors.items()]
            return fail(400, "Invalid notification", details)
        data = notification_output(notification)
        if secret:
            data["secret"] = secret  # this once: keep it to verify the signatures
        return ok(data, "Notification added", 201)


class NotificationDetailAPI(APIView):
    @extend_schema(responses={200: None})
    def delete(self, request, pk: int):
        notification = get_object_or_404(Notification.objects.select_related("workflow"), pk=pk)
        try:
            services.notification_delete(
                notification=notification, by=request.user, request=request
            )
        except PermissionDenied as exc:
            return fail(403, str(exc))
        return ok(None, "Notification removed")


class ExecutionDeliveriesAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        execution = execution_selectors.execution_get(user=request.user, pk=pk)
        return ok([delivery_output(d) for d in execution_deliveries(execution=execution)])
