"""Reading the audit trail: the filters shared by the pages, the exports and the API."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.audit.models import AuditEvent
from apps.audit.services import event_fields

FILTERS = ("actor", "action", "resource", "status", "date_from", "date_to")


class FilterError(ValueError):
    def __init__(self, field: str, issue: str):
        self.field, self.issue = field, issue
        super().__init__(f"{field}: {issue}")


def _moment(raw: str, field: str, *, end: bool) -> datetime:
    value = parse_datetime(raw) if "T" in raw or " " in raw else None
    if value is None:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            raise FilterError(field, "use YYYY-MM-DD or an ISO 8601 date-time")
        value = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


def audit_filter(params) -> QuerySet[AuditEvent]:
    """actor: username (case-insensitive, exact) or user id; action: exact or a prefix ending in
    '.' ('auth.'); resource: 'type' or 'type:id'; status: one of AuditEvent.Status; date_from /
    date_to: inclusive days (or date-times)."""
    qs = AuditEvent.objects.all().order_by("-seq")
    actor = (params.get("actor") or "").strip()
    if actor:
        cond = Q(actor_username__iexact=actor)
        if actor.isdigit():
            cond |= Q(actor_id=int(actor))
        qs = qs.filter(cond)
    action = (params.get("action") or "").strip()
    if action:
        qs = (
            qs.filter(action__startswith=action)
            if action.endswith(".")
            else qs.filter(action=action)
        )
    resource = (params.get("resource") or "").strip()
    if resource:
        rtype, _, rid = resource.partition(":")
        qs = qs.filter(resource_type=rtype)
        if rid:
            qs = qs.filter(resource_id=rid)
    status = (params.get("status") or "").strip()
    if status:
        if status not in AuditEvent.Status.values:
            raise FilterError("status", f"choose one of: {', '.join(AuditEvent.Status.values)}")
        qs = qs.filter(status=status)
    date_from = (params.get("date_from") or "").strip()
    if date_from:
        qs = qs.filter(timestamp__gte=_moment(date_from, "date_from", end=False))
    date_to = (params.get("date_to") or "").strip()
    if date_to:
        qs = (
            qs.filter(timestamp__lt=_moment(date_to, "date_to", end=True))
            if "T" not in date_to and " " not in date_to
            else qs.filter(timestamp__lte=_moment(date_to, "date_to", end=True))
        )
    return qs


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


EXPORT_FIELDS = (
    "seq",
    "timestamp",
    "actor_id",
    "actor_username",
    "role",
    "action",
    "resource_type",
    "resource_id",
    "status",
    "ip",
    "user_agent",
    "details",
    "prev_hash",
    "hash",
)


def event_as_dict(event: AuditEvent) -> dict:
    return {**event_fields(event), "hash": event.hash}
