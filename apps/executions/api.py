"""Executions API: start (202), list, detail, cancel, report. All in the envelope."""

from __future__ import annotations

import io

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from apps.audit.csvexport import SafeWriter
from apps.core.envelope import fail, ok
from apps.executions import selectors, services
from apps.executions.models import Trigger
from apps.workflows.models import Workflow

MAX_PAGE_SIZE = 200


class ExecutionTableOutput(serializers.Serializer):
    position = serializers.IntegerField()
    source_table = serializers.CharField()
    target_table = serializers.CharField()
    status = serializers.CharField()
    rows_read = serializers.IntegerField()
    rows_written = serializers.IntegerField()
    rows_masked = serializers.IntegerField()
    seconds = serializers.FloatField()
    rows_per_second = serializers.FloatField()
    load_path = serializers.CharField()


class ExecutionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    workflow = serializers.SerializerMethodField()
    status = serializers.CharField()
    trigger = serializers.CharField()
    schedule_id = serializers.IntegerField(allow_null=True, help_text="the schedule that fired it")
    executed_by = serializers.SerializerMethodField()
    rows_processed = serializers.IntegerField()
    rows_masked = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField()
    rows_per_second = serializers.FloatField()
    current_table = serializers.CharField()
    error_message = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    plan_hash = serializers.CharField()
    key_version = serializers.CharField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)

    def get_workflow(self, obj) -> dict:
        return {"id": obj.workflow_id, "name": obj.workflow.name}

    def get_executed_by(self, obj) -> dict:
        return {"id": obj.executed_by_id, "username": obj.executed_by.username}


class ExecutionDetailOutput(ExecutionOutput):
    tables = serializers.SerializerMethodField()

    def get_tables(self, obj) -> list[dict]:
        return ExecutionTableOutput(obj.tables.order_by("position", "pk"), many=True).data


class StartedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class ExecuteAPI(APIView):
    @extend_schema(request=None, responses={202: StartedOutput})
    def post(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk)
        try:
            execution = services.execution_start(
                workflow=workflow, by=request.user, trigger=Trigger.API, request=request
            )
        except PermissionDenied:
            return fail(403, "Only the workflow's owner or an administrator can run it.")
        except services.ExecutionRefused as exc:
            return fail(
                409, str(exc), code="CONFLICT" if exc.code == "conflict" else "NOT_RUNNABLE"
            )
        return ok(
            {"id": execution.pk, "status": execution.status},
            "Execution queued",
            status_code=status.HTTP_202_ACCEPTED,
        )


class ExecutionListAPI(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in ("workflow", "status", "user", "date_from", "date_to", "page", "page_size")
        ],
        responses=ExecutionOutput(many=True),
    )
    def get(self, request):
        services.execution_reap_quietly()
        q = request.query_params
        qs = selectors.execution_list(
            user=request.user,
            workflow=q.get("workflow"),
            status=q.get("status"),
            executed_by=q.get("user"),
            date_from=q.get("date_from"),
            date_to=q.get("date_to"),
        )
        try:
            size = max(1, min(MAX_PAGE_SIZE, int(q.get("page_size") or 50)))
            number = max(1, int(q.get("page") or 1))
        except ValueError:
            return fail(
                400,
                "Invalid input.",
                [{"field": "page", "issue": "page and page_size must be integers"}],
            )
        paginator = Paginator(qs, size)
        try:
            page = paginator.page(number)
            items = list(page.object_list)
        except EmptyPage:
            items = []
        return ok(
            {
                "count": paginator.count,
                "page": number,
                "page_size": size,
                "num_pages": paginator.num_pages,
                "results": ExecutionOutput(items, many=True).data,
            }
        )


class ExecutionDetailAPI(APIView):
    @extend_schema(responses=ExecutionDetailOutput)
    def get(self, request, pk: int):
        execution = selectors.execution_get(user=request.user, pk=pk)
        return ok(ExecutionDetailOutput(execution).data)


class ExecutionCancelAPI(APIView):
    @extend_schema(request=None, responses=ExecutionOutput)
    def post(self, request, pk: int):
        execution = selectors.execution_get(user=request.user, pk=pk)
        if execution.is_final:
            return fail(409, f"The execution is already {execution.status}.")
        execution = services.execution_cancel(execution=execution, by=request.user, request=request)
        message = "Execution cancelled" if execution.is_final else "Cancel requested"
        return ok(ExecutionOutput(execution).data, message)


class ExecutionResumeAPI(APIView):
    @extend_schema(request=None, responses=ExecutionOutput)
    def post(self, request, pk: int):
        from apps.executions.services.resume import ResumeRefused, execution_resume

        execution = selectors.execution_get(user=request.user, pk=pk)
        try:
            execution = execution_resume(
                execution=execution, by=request.user, request=request, enqueue=True
            )
        except ResumeRefused as exc:
            return fail(409, str(exc))
        return ok(ExecutionOutput(execution).data, "Execution resumed")


def report_csv(execution) -> str:
    """The compliance report as CSV: one row per table, then one per leak-checked column."""
    report = execution.report or {}
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(
        [
            "section",
            "table",
            "column",
            "technique",
            "rows_read",
            "rows_written",
            "rows_masked",
            "seconds",
            "rows_per_s",
            "sampled",
            "equal",
            "result",
            "load_path",
        ]
    )
    for t in report.get("tables", []):
        writer.writerow(
            [
                "table",
                t["table"],
                "",
                "",
                t["rows_read"],
                t["rows_written"],
                t["rows_masked"],
                t["seconds"],
                t["rows_per_s"],
                "",
                "",
                "",
                t.get("load_path", ""),
            ]
        )
    for c in report.get("leak_checks", []):
        writer.writerow(
            [
                "leak_check",
                c["table"],
                c["column"],
                c["technique"],
                "",
                "",
                "",
                "",
                "",
                c["sampled"],
                c["equal"],
                "ok" if c["ok"] else "LEAK",
            ]
        )
    writer.writerow(
        [
            "summary",
            "",
            "",
            "",
            report.get("rows_processed", ""),
            "",
            report.get("rows_masked", ""),
            report.get("duration_seconds", ""),
            "",
            "",
            "",
            f"fk_ok={report.get('fk_ok')} plan_hash={report.get('plan_hash', '')} "
            f"key_version={report.get('key_version', '')}",
        ]
    )
    return out.getvalue()


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """`?format=csv` is this endpoint's own parameter, not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


class ExecutionReportAPI(APIView):
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "csv"], required=False)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk: int):
        execution = selectors.execution_get(user=request.user, pk=pk)
        if not execution.report:
            return fail(409, f"No report: the execution is {execution.status}.")
        if request.query_params.get("format") == "csv":
            response = HttpResponse(report_csv(execution), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="execution-{execution.pk}-report.csv"'
            )
            return response
        return ok(execution.report)
