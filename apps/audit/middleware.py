from apps.audit.models import AuditEvent
from apps.audit.services import audit_record


class AuditRefusalMiddleware:
    """Records every 401 and 403 response, on pages and API alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in (401, 403):
            action = "auth.unauthorized" if response.status_code == 401 else "auth.forbidden"
            audit_record(
                action=action,
                status=AuditEvent.Status.DENIED,
                request=request,
                resource_type="path",
                resource_id=request.path[:64],
                details={"method": request.method, "status": response.status_code},
            )
        return response
