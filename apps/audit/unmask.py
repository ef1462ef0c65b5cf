"""Reversing a `tokenize` value: admin only, with a stated reason, rate limited and audited.

The audit event (`data.unmask`) names the workflow, the column, the technique and the reason;
never the token nor the clear value."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.permissions import is_admin
from apps.core.ratelimit import RateLimited, rate_check
from masking import MaskContext, unmask

MIN_REASON = 10
DEFAULT_RATE = "10/min"


class UnmaskError(Exception):
    def __init__(self, field: str, issue: str):
        self.field, self.issue = field, issue
        super().__init__(f"{field}: {issue}")


class UnmaskRateLimited(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__("too many unmask requests")


def _rate() -> str:
    return str(
        getattr(settings, "UNMASK_RATE", None)
        or settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get("unmask")
        or DEFAULT_RATE
    )


def unmask_rate_check(user) -> None:
    """Fixed window per admin, shared by the page and the API; raises UnmaskRateLimited."""
    try:
        rate_check("unmask", user.pk, _rate())
    except RateLimited as exc:
        raise UnmaskRateLimited(exc.retry_after) from None


def workflow_model():
    """The workflows app's Workflow, looked up by label: audit sits below the other apps and
    imports none of them (revealing a token needs the workflow's mappings and secret)."""
    return apps.get_model("workflows", "Workflow")


def tokenized_columns(workflow) -> list[dict]:
    """Every column the workflow masks with `tokenize`: {"key", "table", "column", "params"}."""
    out = []
    for m in workflow.mappings.order_by("position", "pk"):
        for cm in m.column_mappings or []:
            if cm.get("technique") != "tokenize":
                continue
            column = cm.get("target_column") or cm["source_column"]
            out.append(
                {
                    "key": f"{m.target_schema}.{m.target_table}.{column}"
                    if m.target_schema
                    else f"{m.target_table}.{column}",
                    "schema": m.target_schema,
                    "table": m.target_table,
                    "column": column,
                    "source": f"{m.source_table}.{cm['source_column']}",
                    "params": dict(cm.get("params") or {}),
                }
            )
    return out


def _resolve(workflow, column: str) -> dict:
    column = (column or "").strip()
    if not column:
        raise UnmaskError("column", "name the column: table.column (or schema.table.column)")
    candidates = tokenized_columns(workflow)
    if not candidates:
        raise UnmaskError("column", "this workflow has no column masked with tokenize")
    lowered = column.lower()
    matches = [
        c
        for c in candidates
        if lowered
        in {
            c["key"].lower(),
            f"{c['table']}.{c['column']}".lower(),
            c["source"].lower(),
            c["column"].lower(),
        }
    ]
    if len(matches) != 1:
        issue = (
            "no tokenized column matches" if not matches else "ambiguous: use schema.table.column"
        )
        raise UnmaskError("column", issue)
    return matches[0]


def unmask_value(*, workflow, value: str, column: str, reason: str, by, request=None) -> str:
    """Return the clear value of a token produced by `tokenize` in `workflow` for `column`."""

    if not is_admin(by):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Administrator role required.")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise UnmaskError(
            "reason", f"state why you need the clear value (at least {MIN_REASON} characters)"
        )
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise UnmaskError("value", "give the masked value (1 to 1000 characters)")
    target = _resolve(workflow, column)
    try:
        unmask_rate_check(by)
    except UnmaskRateLimited:
        audit_record(
            action="data.unmask",
            status=AuditEvent.Status.DENIED,
            request=request,
            actor=by,
            resource_type="workflow",
            resource_id=workflow.pk,
            details={
                "workflow": workflow.name,
                "column": target["key"],
                "reason": reason,
                "refused": "rate limit",
            },
        )
        raise
    ctx = MaskContext(secret=workflow.get_secret(), locale=workflow.locale, table=target["table"])
    clear = unmask(value, target["params"], ctx)
    audit_record(
        action="data.unmask",
        request=request,
        actor=by,
        resource_type="workflow",
        resource_id=workflow.pk,
        details={
            "workflow": workflow.name,
            "column": target["key"],
            "technique": "tokenize",
            "reason": reason,
        },
    )
    return clear
