from django.conf import settings
from django.core.exceptions import RequestDataTooBig


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set: CSP and a strict permissions policy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = (
            settings.API_DOCS_CONTENT_SECURITY_POLICY
            if request.path.startswith("/api/docs")
            else settings.CONTENT_SECURITY_POLICY
        )
        response.setdefault("Content-Security-Policy", policy)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


class BodySizeLimitMiddleware:
    """A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is refused with 413 before any
    view reads it; Django's own check fires only for some ways of reading a body, and as a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return too_large(request)
        try:
            return self.get_response(request)
        except RequestDataTooBig:
            return too_large(request)


def too_large(request):
    from django.http import HttpResponse

    from apps.core.envelope import json_error

    message = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    if request.path.startswith("/api/"):
        return json_error(413, message)
    return HttpResponse(message, status=413, content_type="text/plain")
