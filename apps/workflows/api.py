import copy

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.core.envelope import fail, ok
from apps.core.permissions import can_modify
from apps.workflows import selectors, services
from apps.workflows.models import Workflow
from apps.workflows.subsetting import workflow_subset_estimate
from apps.workflows.validation import WorkflowInvalid
from masking import catalogue

# `pii_attribute` was the name of `technique` up to version 0.x; it is accepted on input and
# repeated on output for one more release, then removed.
DEPRECATED_TECHNIQUE_ALIAS = "pii_attribute"


@extend_schema_serializer(deprecate_fields=[DEPRECATED_TECHNIQUE_ALIAS])
class ColumnMappingInput(serializers.Serializer):
    source_column = serializers.CharField()
    technique = serializers.CharField(
        required=False, help_text="Masking technique name (GET /api/techniques); default keep."
    )
    pii_attribute = serializers.CharField(
        required=False,
        help_text="Deprecated alias of `technique`, accepted and returned for one more release.",
    )
    target_column = serializers.CharField(required=False)
    params = serializers.DictField(required=False)
    deterministic = serializers.BooleanField(required=False)


class MappingInput(serializers.Serializer):
    source_schema = serializers.CharField(required=False)
    source_table = serializers.CharField()
    target_schema = serializers.CharField(required=False)
    target_table = serializers.CharField(required=False)
    create_target = serializers.BooleanField(required=False)
    copy_unmapped = serializers.BooleanField(required=False)
    row_filter = serializers.CharField(required=False, allow_blank=True)
    column_mappings = ColumnMappingInput(many=True)


class WorkflowInput(serializers.Serializer):
    """Shape for the schema; validation is validation.workflow_clean, shared with the wizard."""

    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    source_connection_id = serializers.IntegerField()
    target_connection_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["active", "inactive"], required=False)
    target_mode = serializers.ChoiceField(
        choices=["truncate", "append", "fail_if_not_empty"], required=False
    )
    locale = serializers.CharField(required=False)
    leak_max_share = serializers.FloatField(required=False, min_value=0, max_value=1)
    leak_action = serializers.ChoiceField(choices=["fail", "flag"], required=False)
    max_source_readers = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1000,
        help_text="Units of a run split into units that may read the source at once "
        "(null: the install's EXECUTION_MAX_SOURCE_READERS).",
    )
    subset = serializers.JSONField(required=False, allow_null=True)
    mappings = MappingInput(many=True)


def workflow_output(w: Workflow, *, detail: bool = False) -> dict:
    data = {
        "id": w.pk,
        "name": w.name,
        "description": w.description,
        "status": w.status,
        "source_connection_id": w.source_connection_id,
        "target_connection_id": w.target_connection_id,
        "source_connection": w.source_connection.name,
        "target_connection": w.target_connection.name,
        "target_mode": w.target_mode,
        "locale": w.locale,
        "leak_max_share": w.leak_max_share,
        "leak_action": w.leak_action,
        "max_source_readers": w.max_source_readers,
        "subset": w.subset,
        "created_by": {"id": w.created_by_id, "username": w.created_by.username},
        "created_at": w.created_at.isoformat(),
        "updated_at": w.updated_at.isoformat(),
        "tables": w.mappings.count(),
        "key_version": w.key_version,
    }
    if detail:
        mappings = services.workflow_as_input(w)["mappings"]
        for m in mappings:
            for cm in m["column_mappings"]:
                cm[DEPRECATED_TECHNIQUE_ALIAS] = cm.get("technique", "keep")
        data["mappings"] = mappings
    return data


def _invalid(exc: WorkflowInvalid):
    return fail(400, "Invalid workflow configuration", exc.issues)


def _body(request):
    return request.data if isinstance(request.data, dict) else None


def _technique_alias(body: dict) -> dict:
    """Read the deprecated `pii_attribute` as `technique`. Returns the issues found: both names
    with different values is refused rather than guessed."""
    issues = {}
    mappings = body.get("mappings")
    for i, m in enumerate(mappings if isinstance(mappings, list) else []):
        cms = m.get("column_mappings") if isinstance(m, dict) else None
        for j, cm in enumerate(cms if isinstance(cms, list) else []):
            if not isinstance(cm, dict) or DEPRECATED_TECHNIQUE_ALIAS not in cm:
                continue
            old = cm.pop(DEPRECATED_TECHNIQUE_ALIAS)
            if "technique" in cm and cm["technique"] != old:
                issues[f"mappings[{i}].column_mappings[{j}].technique"] = (
                    "'technique' and its deprecated alias 'pii_attribute' differ; send only "
                    "'technique'."
                )
            else:
                cm["technique"] = old
    return issues


def _workflow_body(request):
    """The request's workflow object with aliases resolved, or an error response."""
    body = _body(request)
    if body is None:
        return None, fail(400, "Expected a JSON object.")
    body = copy.deepcopy(body)
    issues = _technique_alias(body)
    if issues:
        return None, fail(400, "Invalid workflow configuration", issues)
    return body, None


class WorkflowListAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="workflows_list")
    def get(self, request):
        return ok([workflow_output(w) for w in selectors.workflow_list(user=request.user)])

    @extend_schema(request=WorkflowInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        body, error = _workflow_body(request)
        if error is not None:
            return error
        try:
            w = services.workflow_create(data=body, by=request.user, request=request)
        except WorkflowInvalid as exc:
            return _invalid(exc)
        return ok(workflow_output(w, detail=True), "Workflow created successfully", 201)


class WorkflowDetailAPI(APIView):
    def _get(self, pk):
        return get_object_or_404(
            Workflow.objects.select_related("source_connection", "target_connection", "created_by"),
            pk=pk,
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return ok(workflow_output(self._get(pk), detail=True))

    @extend_schema(request=WorkflowInput, responses=OpenApiTypes.OBJECT)
    def put(self, request, pk: int):
        w = self._get(pk)
        if not can_modify(request.user, w):
            return fail(403, "Only the owner or an administrator can edit this workflow.")
        body, error = _workflow_body(request)
        if error is not None:
            return error
        try:
            w = services.workflow_update(workflow=w, data=body, by=request.user, request=request)
        except WorkflowInvalid as exc:
            return _invalid(exc)
        return ok(workflow_output(w, detail=True), "Workflow updated successfully")

    @extend_schema(responses={200: None})
    def delete(self, request, pk: int):
        w = self._get(pk)
        if not can_modify(request.user, w):
            return fail(403, "Only the owner or an administrator can delete this workflow.")
        services.workflow_delete(workflow=w, by=request.user, request=request)
        return ok(None, "Workflow deleted")


class WorkflowRotateKeyAPI(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        w = get_object_or_404(Workflow, pk=pk)
        if not can_modify(request.user, w):
            return fail(403, "Only the owner or an administrator can rotate this workflow's key.")
        w = services.workflow_rotate_key(workflow=w, by=request.user, request=request)
        return ok(
            {"id": w.pk, "key_version": w.key_version},
            "Masking key rotated: later runs mask every value differently.",
        )


class WorkflowPreviewAPI(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        w = get_object_or_404(Workflow, pk=pk)
        try:
            data = selectors.workflow_preview(workflow=w)
        except Exception as exc:
            return fail(
                502,
                f"Could not read sample rows ({type(exc).__name__}).",
                code="SOURCE_UNAVAILABLE",
            )
        return ok(data)


class TechniquesAPI(APIView):
    """The technique catalogue, grouped by type category."""

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="techniques_list")
    def get(self, request):
        return ok(catalogue())


class PiiAttributesAPI(TechniquesAPI):
    """Deprecated path of the technique catalogue, answered for one more release."""

    @extend_schema(
        responses=OpenApiTypes.OBJECT, operation_id="pii_attributes_list", deprecated=True
    )
    def get(self, request):
        return super().get(request)


class WorkflowSubsetEstimateAPI(APIView):
    """Rows the saved subset (or the one in the body, not saved) keeps per table."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        w = get_object_or_404(Workflow, pk=pk)
        if not can_modify(request.user, w):
            return fail(403, "Only the owner or an administrator can size this workflow's subset.")
        body = _body(request) or {}
        try:
            data = workflow_subset_estimate(workflow=w, subset=body.get("subset"))
        except WorkflowInvalid as exc:
            return _invalid(exc)
        except Exception as exc:  # noqa: BLE001 - the source is down or refuses: no driver text
            return fail(
                502, f"Could not size the subset ({type(exc).__name__}).", code="SOURCE_UNAVAILABLE"
            )
        return ok(data)
