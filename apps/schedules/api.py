from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.core.envelope import fail, ok
from apps.schedules import services
from apps.schedules.models import Schedule
from apps.schedules.selectors import all_schedules, schedule_output, workflow_schedules
from apps.workflows.models import Workflow


class ScheduleInput(serializers.Serializer):
    cron = serializers.CharField(help_text="Five fields: minute hour day month weekday.")
    timezone = serializers.CharField(required=False, help_text="IANA zone; default UTC.")
    paused = serializers.BooleanField(required=False)


def _invalid(exc: services.ScheduleInvalid):
    return fail(
        400,
        "Invalid schedule",
        [{"field": field, "issue": issue} for field, issue in exc.errors.items()],
    )


def _body(request) -> dict | None:
    return request.data if isinstance(request.data, dict) else None


class SchedulesAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="schedules_list")
    def get(self, request):
        """Every workflow's schedules, the next to fire first and the paused last."""
        return ok([schedule_output(s, request.user, firings=1) for s in all_schedules()])


class WorkflowSchedulesAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk)
        return ok([schedule_output(s, request.user) for s in workflow_schedules(workflow=workflow)])

    @extend_schema(request=ScheduleInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk)
        body = _body(request)
        if body is None:
            return fail(400, "Send a JSON object with cron and timezone.")
        try:
            schedule = services.schedule_create(
                workflow=workflow,
                by=request.user,
                cron=str(body.get("cron") or ""),
                tz=str(body.get("timezone") or "UTC"),
                request=request,
            )
            if body.get("paused") is True:
                schedule = services.schedule_set_paused(
                    schedule=schedule, by=request.user, paused=True, request=request
                )
        except PermissionDenied as exc:
            return fail(403, str(exc))
        except services.ScheduleInvalid as exc:
            return _invalid(exc)
        return ok(schedule_output(schedule, request.user), "Schedule created", 201)


class ScheduleDetailAPI(APIView):
    def _get(self, pk: int) -> Schedule:
        return get_object_or_404(Schedule.objects.select_related("created_by"), pk=pk)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return ok(schedule_output(self._get(pk), request.user, firings=50))

    @extend_schema(request=ScheduleInput(partial=True), responses=OpenApiTypes.OBJECT)
    def patch(self, request, pk: int):
        schedule = self._get(pk)
        body = _body(request)
        if body is None:
            return fail(400, "Send a JSON object with cron, timezone or paused.")
        if "paused" in body and not isinstance(body["paused"], bool):
            return fail(400, "Invalid schedule", [{"field": "paused", "issue": "true or false"}])
        try:
            if "cron" in body or "timezone" in body:
                schedule = services.schedule_update(
                    schedule=schedule,
                    by=request.user,
                    cron=None if body.get("cron") is None else str(body["cron"]),
                    tz=None if body.get("timezone") is None else str(body["timezone"]),
                    request=request,
                )
            if "paused" in body and body["paused"] != schedule.paused:
                schedule = services.schedule_set_paused(
                    schedule=schedule, by=request.user, paused=body["paused"], request=request
                )
            elif not services.can_change(request.user, schedule):
                raise PermissionDenied(
                    "Only the schedule's owner or an administrator can change it."
                )
        except PermissionDenied as exc:
            return fail(403, str(exc))
        except services.ScheduleInvalid as exc:
            return _invalid(exc)
        return ok(schedule_output(schedule, request.user), "Schedule updated")

    @extend_schema(responses={200: None})
    def delete(self, request, pk: int):
        schedule = self._get(pk)
        try:
            services.schedule_delete(schedule=schedule, by=request.user, request=request)
        except PermissionDenied as exc:
            return fail(403, str(exc))
        return ok(None, "Schedule deleted")
