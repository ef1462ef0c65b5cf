from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.connections import browse, probe, services
from apps.connections.models import Connection, Dialect, RoleHint
from apps.core.envelope import fail, ok
from apps.core.logging import redact_text
from apps.core.permissions import can_modify
from apps.core.ratelimit import RateLimited
from masking import TerminalError

MASK = "******"


class ConnectionInput(serializers.Serializer):
    """Shape for the schema; validation itself lives in services.connection_clean (pages share
    it)."""

    name = serializers.CharField(max_length=100)
    dialect = serializers.ChoiceField(choices=Dialect.choices)
    host = serializers.CharField(required=False, allow_blank=True)
    port = serializers.IntegerField(required=False, allow_null=True)
    database = serializers.CharField()
    username = serializers.CharField(required=False, allow_blank=True)
    password = serializers.CharField(required=False, allow_blank=True, write_only=True)
    options = serializers.DictField(required=False)
    role_hint = serializers.ChoiceField(choices=RoleHint.choices, required=False)


class LastTestOutput(serializers.Serializer):
    ok = serializers.BooleanField(allow_null=True)
    category = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class ConnectionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    dialect = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    database = serializers.CharField()
    username = serializers.CharField()
    password = serializers.SerializerMethodField()
    options = serializers.DictField()
    role_hint = serializers.CharField()
    created_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_test = serializers.SerializerMethodField()

    def get_password(self, obj) -> str:
        return MASK if obj.has_password else ""

    def get_created_by(self, obj) -> dict:
        return {"id": obj.created_by_id, "username": obj.created_by.username}

    def get_last_test(self, obj) -> dict:
        return {
            "ok": obj.last_test_ok,
            "category": obj.last_test_category,
            "message": obj.last_test_message,
            "at": obj.last_test_at.isoformat() if obj.last_test_at else None,
        }


def _payload(request) -> dict:
    data = request.data if isinstance(request.data, dict) else {}
    if data.get("password") == MASK:  # a client echoing the masked value back changes nothing
        data = {k: v for k, v in data.items() if k != "password"}
    return data


def _input_error(exc: services.ConnectionInputError):
    return fail(
        400, "Invalid connection.", [{"field": k, "issue": v} for k, v in exc.errors.items()]
    )


def _test_output(result) -> dict:
    return {
        "ok": result.ok,
        "category": result.category,
        "message": result.message,
        "server_version": result.server_version,
        "elapsed_ms": result.elapsed_ms,
    }


class ConnectionListAPI(APIView):
    @extend_schema(responses=ConnectionOutput(many=True))
    def get(self, request):
        qs = Connection.objects.select_related("created_by").order_by("name")
        return ok(ConnectionOutput(qs, many=True).data)

    @extend_schema(request=ConnectionInput, responses={201: ConnectionOutput})
    def post(self, request):
        if not isinstance(request.data, dict):
            return fail(400, "Expected a JSON object.")
        try:
            conn = services.connection_create(
                data=_payload(request), by=request.user, request=request
            )
        except services.ConnectionInputError as exc:
            return _input_error(exc)
        return ok(ConnectionOutput(conn).data, "Connection created successfully", 201)


def _rate_limited(exc: RateLimited):
    response = fail(
        429, "Too many connection tests; try again later.", {"retry_after": exc.retry_after}
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


class ConnectionTestUnsavedAPI(APIView):
    @extend_schema(
        request=ConnectionInput, responses=LastTestOutput, operation_id="connections_test_unsaved"
    )
    def post(self, request):
        try:
            result = probe.connection_test_unsaved(
                data=_payload(request), by=request.user, request=request
            )
        except services.ConnectionInputError as exc:
            return _input_error(exc)
        except RateLimited as exc:
            return _rate_limited(exc)
        return ok(_test_output(result), "Connection OK" if result.ok else "Connection failed")


class ConnectionDetailAPI(APIView):
    def _get(self, pk):
        return get_object_or_404(Connection.objects.select_related("created_by"), pk=pk)

    @extend_schema(responses=ConnectionOutput)
    def get(self, request, pk: int):
        return ok(ConnectionOutput(self._get(pk)).data)

    @extend_schema(request=ConnectionInput, responses=ConnectionOutput)
    def put(self, request, pk: int):
        conn = self._get(pk)
        if not can_modify(request.user, conn):
            return fail(403, "Only the owner or an administrator can edit this connection.")
        if not isinstance(request.data, dict):
            return fail(400, "Expected a JSON object.")
        try:
            conn = services.connection_update(
                conn=conn, data=_payload(request), by=request.user, request=request
            )
        except services.ConnectionInputError as exc:
            return _input_error(exc)
        return ok(ConnectionOutput(conn).data, "Connection updated successfully")

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        conn = self._get(pk)
        if not can_modify(request.user, conn):
            return fail(403, "Only the owner or an administrator can delete this connection.")
        try:
            services.connection_delete(conn=conn, by=request.user, request=request)
        except services.ConnectionInUse as exc:
            return fail(409, str(exc), code="CONNECTION_IN_USE")
        return ok(None, "Connection deleted", 200)


class ConnectionTestAPI(APIView):
    @extend_schema(request=None, responses=LastTestOutput)
    def post(self, request, pk: int):
        conn = get_object_or_404(Connection, pk=pk)
        try:
            result = probe.connection_test(conn=conn, by=request.user, request=request)
        except RateLimited as exc:
            return _rate_limited(exc)
        return ok(_test_output(result), "Connection OK" if result.ok else "Connection failed")


def _browse(request, pk, fn, what, **kwargs):
    conn = get_object_or_404(Connection, pk=pk)
    refresh = request.query_params.get("refresh") in ("1", "true")
    try:
        value = fn(conn=conn, refresh=refresh, **kwargs)
    except services.ConnectionInputError as exc:
        return _input_error(exc)
    except Exception as exc:
        if isinstance(exc, TerminalError) and "not found" in str(exc):
            return fail(404, "Table not found.")
        return fail(
            502,
            "Could not read the database schema: " + redact_text(type(exc).__name__),
            code="SOURCE_UNAVAILABLE",
        )
    browse.connection_audit_browse(
        conn=conn, request=request, what=what, **{k: v for k, v in kwargs.items()}
    )
    return value


class SchemasAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        value = _browse(request, pk, browse.connection_schemas, "schemas")
        return value if hasattr(value, "status_code") else ok(value)


class TablesAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int, schema: str):
        value = _browse(request, pk, browse.connection_tables, "tables", schema=schema)
        if hasattr(value, "status_code"):
            return value
        return ok(
            [
                {"schema": t.schema, "name": t.name, "row_estimate": t.row_estimate, "kind": t.kind}
                for t in value
            ]
        )


class ColumnsAPI(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int, schema: str, table: str):
        value = _browse(request, pk, browse.connection_table, "columns", schema=schema, table=table)
        if hasattr(value, "status_code"):
            return value
        return ok(browse.table_as_dict(value))
