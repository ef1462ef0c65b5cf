"""Reading schedules: what the workflow page, the API and the command show."""

from __future__ import annotations

from apps.schedules.models import Schedule
from apps.schedules.services import can_change, describe, next_fire


def schedule_output(schedule: Schedule, user=None, *, firings: int = 10) -> dict:
    upcoming = next_fire(schedule)
    return {
        "id": schedule.pk,
        "workflow_id": schedule.workflow_id,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "description": describe(schedule.cron, schedule.timezone),
        "paused": schedule.paused,
        "owner": schedule.created_by.username,
        "created_at": schedule.created_at.isoformat(),
        "last_fired_at": schedule.last_fired_at.isoformat() if schedule.last_fired_at else None,
        "next_fire_at": upcoming.isoformat() if upcoming else None,
        "next_fire_local": upcoming.strftime("%a %Y-%m-%d %H:%M %Z") if upcoming else "",
        "can_change": can_change(user, schedule) if user is not None else False,
        "firings": [
            {
                "fired_at": f.fired_at.isoformat(),
                "outcome": f.outcome,
                "reason": f.reason,
                "execution_id": f.execution_id,
            }
            for f in schedule.firings.all()[:firings]
        ],
    }


def workflow_schedules(*, workflow) -> list[Schedule]:
    return list(
        Schedule.objects.filter(workflow=workflow).select_related("created_by").order_by("pk")
    )


def all_schedules() -> list[Schedule]:
    """Every schedule, the next to fire first and the paused last (the schedules page)."""
    schedules = list(Schedule.objects.select_related("workflow", "created_by"))
    upcoming = {s.pk: next_fire(s) for s in schedules}  # aware: zones compare rightly
    return sorted(schedules, key=lambda s: (0, upcoming[s.pk]) if upcoming[s.pk] else (1,))
