from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.core import signals
from apps.core.envelope import fail, json_error, ok

logger = logging.getLogger("maskflow.health")


def api_docs(request):
    return render(request, "core/api_docs.html", {})


def health(request):
    return JsonResponse({"success": True, "data": {"status": "ok"}, "message": ""})


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return True, "reachable"
    except Exception as exc:  # any failure means "not reachable"; the reason is logged, not shown
        logger.warning("app database health check failed: %s", type(exc).__name__)
        return False, "unreachable"


def _check_broker() -> tuple[bool, str]:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return True, "reachable"
    except Exception as exc:
        logger.warning("broker health check failed: %s", type(exc).__name__)
        return False, "unreachable"


class HealthDBAPI(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=None)
    def get(self, request):
        db_ok, db_state = _check_database()
        broker_ok, broker_state = _check_broker()
        data = {
            "database": {
                "ok": db_ok,
                "status": db_state,
                "engine": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            },
            "broker": {
                "ok": broker_ok,
                "status": broker_state,
                "transport": settings.CELERY_BROKER_URL.split(":", 1)[0],
            },
        }
        if db_ok and broker_ok:
            return ok(data, "All dependencies reachable")
        return fail(503, "A dependency is unreachable.", details=data, code="SERVICE_UNAVAILABLE")


def api_not_found(request, *args, **kwargs):
    return json_error(404, "Not found.")


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(404, "Not found.")
    return render(request, "404.html", status=404)


def audit_server_error(request) -> None:
    """Tell the layers above that this request failed (the audit app records it)."""
    signals.server_error.send(sender=None, request=request)


def server_error(request):
    audit_server_error(request)
    if request.path.startswith("/api/"):
        return json_error(500, "An internal error occurred.")
    return render(request, "500.html", status=500)


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(403, "You do not have permission to perform this action.")
    return render(request, "403.html", status=403)
