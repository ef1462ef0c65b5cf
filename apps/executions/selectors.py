"""Execution reads. Users see only the executions they started; admins see all (seed 8.4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from apps.core.permissions import is_admin, scope_to_user
from apps.executions.models import Execution, ExecutionStatus


def execution_visible(*, user) -> QuerySet[Execution]:
    qs = Execution.objects.select_related("workflow", "executed_by")
    return scope_to_user(qs, user, "executed_by_id")


def _parse_date(value: Any) -> dt.date | None:
    if not value:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def execution_list(
    *,
    user,
    workflow: Any = None,
    status: str | None = None,
    executed_by: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> QuerySet[Execution]:
    """Filters are forgiving: an unparseable value filters nothing rather than failing."""
    qs = execution_visible(user=user)
    if workflow not in (None, ""):
        try:
            qs = qs.filter(workflow_id=int(getattr(workflow, "pk", workflow)))
        except (TypeError, ValueError):
            qs = qs.none()
    if status:
        qs = qs.filter(status=status) if status in ExecutionStatus.values else qs.none()
    if executed_by not in (None, "") and is_admin(user):
        try:
            qs = qs.filter(executed_by_id=int(getattr(executed_by, "pk", executed_by)))
        except (TypeError, ValueError):
            qs = qs.filter(executed_by__username=str(executed_by))
    tz = timezone.get_current_timezone()
    start, end = _parse_date(date_from), _parse_date(date_to)
    if start:
        qs = qs.filter(queued_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz))
    if end:
        qs = qs.filter(
            queued_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        )
    return qs.order_by("-queued_at", "-pk")


def execution_get(*, user, pk: int) -> Execution:
    """404 for executions the user may not see: they must not learn that they exist."""
    try:
        return execution_visible(user=user).get(pk=pk)
    except Execution.DoesNotExist:
        raise Http404("No such execution.") from None


def execution_stats(*, user, days: int = 30) -> dict:
    """Dashboard numbers over the executions the user may see."""
    qs = execution_visible(user=user)
    totals = qs.aggregate(
        total=Count("pk"),
        success=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)),
        failed=Count("pk", filter=Q(status=ExecutionStatus.FAILED)),
        finished=Count(
            "pk", filter=Q(status__in=[ExecutionStatus.SUCCESS, ExecutionStatus.FAILED])
        ),
    )
    rate = round(100 * totals["success"] / totals["finished"]) if totals["finished"] else None
    today = timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    tz = timezone.get_current_timezone()
    per_day = {
        row["day"]: row["rows"] or 0
        for row in qs.filter(
            status=ExecutionStatus.SUCCESS,
            finished_at__gte=dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        )
        .annotate(day=TruncDate("finished_at", tzinfo=tz))
        .values("day")
        .annotate(rows=Sum("rows_masked"))
    }
    labels, values = [], []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        labels.append(day.isoformat())
        values.append(int(per_day.get(day, 0)))
    return {
        "executions": totals["total"],
        "success": totals["success"],
        "failed": totals["failed"],
        "success_rate": rate,
        "rows_masked_30d": sum(values),
        "chart": {"labels": labels, "rows_masked": values},
    }


def execution_recent(*, user, limit: int = 8) -> QuerySet[Execution]:
    return execution_visible(user=user).order_by("-queued_at", "-pk")[:limit]


def execution_active(*, user, limit: int = 20) -> list[Execution]:
    """Runs going on now (running, then queued), each with `units_done`, `units_total` and
    `workers` (0 for a run in one transaction)."""
    from django.db.models import Count, Q

    runs = (
        execution_visible(user=user)
        .filter(status__in=(ExecutionStatus.RUNNING, ExecutionStatus.QUEUED))
        .select_related("workflow")
        .annotate(
            units_total=Count("units"),
            units_done=Count("units", filter=Q(units__status="done")),
            workers=Count("units__worker", filter=~Q(units__worker=""), distinct=True),
        )
        .order_by("status", "queued_at", "pk")
    )
    return list(runs[:limit])
