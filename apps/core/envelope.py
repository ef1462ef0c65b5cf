"""The API envelope: {"success", "data", "message"} or {"success": false, "error": {...}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core import signals

logger = logging.getLogger("maskflow.api")

ERROR_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}


def error_body(
    status_code: int, message: str, details: Any = None, code: str | None = None
) -> dict:
    return {
        "success": False,
        "error": {
            "code": code or ERROR_CODES.get(status_code, "ERROR"),
            "message": message,
            "details": details if details is not None else [],
        },
    }


def ok(data: Any = None, message: str = "", status_code: int = status.HTTP_200_OK) -> Response:
    response = Response(data, status=status_code)
    response.envelope_message = message
    return response


def fail(status_code: int, message: str, details: Any = None, code: str | None = None) -> Response:
    response = Response(error_body(status_code, message, details, code), status=status_code)
    response.enveloped = True
    return response


def flatten_errors(detail: Any, prefix: str = "") -> list[dict]:
    """DRF's nested error dicts become [{"field": "a.b", "issue": "..."}]."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            out.extend(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            out.extend({"field": prefix or "non_field_errors", "issue": str(v)} for v in detail)
        else:
            for i, value in enumerate(detail):
                out.extend(flatten_errors(value, f"{prefix}[{i}]"))
    else:
        out.append({"field": prefix or "non_field_errors", "issue": str(detail)})
    return out


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, RequestDataTooBig):
        return fail(413, "The request body is too large.")
    if isinstance(exc, RecursionError):
        return fail(400, "The request is nested too deeply.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error")
        request = context.get("request")
        signals.server_error.send(sender=None, request=getattr(request, "_request", request))
        return fail(500, "An internal error occurred.")
    code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(400, "Invalid input.", flatten_errors(exc.detail))
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) if exc.wait else None
        body = error_body(429, "Too many requests; try again later.", {"retry_after": wait})
    else:
        detail = getattr(exc, "detail", None)
        message = str(detail) if detail is not None else "Request failed."
        body = error_body(code, message)
    response.data = body
    response.enveloped = True
    return response


class EnvelopeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and not getattr(response, "enveloped", False):
            if response.status_code >= 400:
                data = error_body(response.status_code, "Request failed.", data)
            else:
                data = {
                    "success": True,
                    "data": data,
                    "message": getattr(response, "envelope_message", ""),
                }
        return super().render(data, accepted_media_type, renderer_context)


def json_error(status_code: int, message: str) -> JsonResponse:
    """Envelope for errors raised outside DRF (URL not found, server error)."""
    return JsonResponse(error_body(status_code, message), status=status_code)
