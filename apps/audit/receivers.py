"""What the audit trail records of events the other layers signal."""

from __future__ import annotations

import logging

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

logger = logging.getLogger("maskflow.audit")


def record_server_error(sender, request, **_) -> None:
    try:
        audit_record(
            action="server.error",
            status=AuditEvent.Status.ERROR,
            request=request,
            resource_type="path",
            resource_id=request.path[:64],
            details={"method": request.method, "status": 500},
        )
    except Exception:  # the audit must never turn one error into two
        logger.exception("could not record a 500 in the audit trail")
