"""Audit API (administrators only): the filtered trail, chain verification, unmask."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.audit import selectors
from apps.audit.checkpoints import verify_since_checkpoint
from apps.audit.models import AuditEvent
from apps.audit.unmask import UnmaskError, UnmaskRateLimited, unmask_value, workflow_model
from apps.core.envelope import fail, ok
from apps.core.permissions import IsAdmin

MAX_PAGE_SIZE = 200


class AuditEventOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor_username = serializers.CharField()
    role = serializers.CharField()
    action = serializers.CharField()
    resource_type = serializers.CharField()
    resource_id = serializers.CharField()
    status = serializers.CharField()
    ip = serializers.CharField()
    user_agent = serializers.CharField()
    details = serializers.JSONField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()


ChainOutput = inline_serializer(
    "AuditChainStatus",
    {
        "ok": serializers.BooleanField(),
        "checked": serializers.IntegerField(),
        "broken_seq": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
    },
)


def chain_output(status) -> dict:
    return {
        "ok": status.ok,
        "checked": status.checked,
        "broken_seq": status.broken_seq,
        "reason": status.reason,
    }


class AuditListAPI(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in (*selectors.FILTERS, "page", "page_size")
        ],
        responses=AuditEventOutput(many=True),
    )
    def get(self, request):
        q = request.query_params
        try:
            qs = selectors.audit_filter(q)
        except selectors.FilterError as exc:
            return fail(400, "Invalid input.", [{"field": exc.field, "issue": exc.issue}])
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
            items = list(paginator.page(number).object_list)
        except EmptyPage:
            items = []
        return ok(
            {
                "count": paginator.count,
                "page": number,
                "page_size": size,
                "num_pages": paginator.num_pages,
                "results": [selectors.event_as_dict(e) for e in items],
            }
        )


class AuditDetailAPI(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=AuditEventOutput)
    def get(self, request, seq: int):
        return ok(selectors.event_as_dict(get_object_or_404(AuditEvent, seq=seq)))


class AuditVerifyAPI(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=ChainOutput)
    def get(self, request):
        status = verify_since_checkpoint()
        return ok(
            chain_output(status),
            "audit chain OK" if status.ok else f"audit chain BROKEN at event #{status.broken_seq}",
        )


class UnmaskInput(serializers.Serializer):
    value = serializers.CharField(max_length=1000, trim_whitespace=False)
    column = serializers.CharField(max_length=400)
    reason = serializers.CharField(max_length=500)


class UnmaskAPI(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=UnmaskInput,
        responses=inline_serializer(
            "UnmaskOutput", {"value": serializers.CharField(), "column": serializers.CharField()}
        ),
    )
    def post(self, request, pk: int):
        Workflow = workflow_model()
        data = UnmaskInput(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        workflow = get_object_or_404(Workflow, pk=pk)
        v = data.validated_data
        try:
            clear = unmask_value(
                workflow=workflow,
                value=v["value"],
                column=v["column"],
                reason=v["reason"],
                by=request.user,
                request=request,
            )
        except UnmaskError as exc:
            return fail(400, "Invalid input.", [{"field": exc.field, "issue": exc.issue}])
        except UnmaskRateLimited as exc:
            response = fail(
                429, "Too many requests; try again later.", {"retry_after": exc.retry_after}
            )
            response["Retry-After"] = str(exc.retry_after)
            return response
        except PermissionDenied:
            return fail(403, "Administrator role required.")
        response = ok(
            {"value": clear, "column": v["column"]}, "Value unmasked; the request was audited"
        )
        response["Cache-Control"] = "no-store"
        return response
