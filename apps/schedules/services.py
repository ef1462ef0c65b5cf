"""Schedules: create, pause, resume, delete, describe, and fire (what beat's task does).

A schedule's cron is five fields (minute hour day-of-month month day-of-week) read in its own
time zone, so "0 2 * * 1" in Europe/Paris fires at 02:00 Paris time across daylight saving.
Only the schedule's owner or an administrator changes it; creating one needs the right to run
the workflow, and every run it starts is checked again as its owner, at the time it fires."""

from __future__ import annotations

import json
import logging
import zoneinfo
from datetime import datetime, timedelta

from celery.schedules import crontab
from cron_descriptor import Options, get_description
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.permissions import is_admin
from apps.executions.models import Trigger
from apps.executions.services import ExecutionRefused, can_execute, execution_start
from apps.schedules.models import Firing, Schedule

logger = logging.getLogger("maskflow.schedules")
TASK = "maskflow.fire_schedule"
FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
KEEP_FIRINGS = 200  # firings kept per schedule


class ScheduleInvalid(Exception):
    """Bad input: `errors` maps a field (cron, timezone) to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def schedule_clean(cron: str, tz: str) -> tuple[str, str]:
    """The cron normalised to single spaces, and the zone; ScheduleInvalid names what is wrong."""
    errors: dict[str, str] = {}
    cron = " ".join(str(cron or "").split())
    parts = cron.split(" ") if cron else []
    if len(cron) > 120:
        errors["cron"] = "At most 120 characters."
    elif len(parts) != 5:
        errors["cron"] = (
            "Give five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * 1'."
        )
    else:
        try:
            crontab(**dict(zip(FIELDS, parts, strict=True)))
        except (ValueError, TypeError, IndexError) as exc:
            errors["cron"] = f"Not a valid cron expression: {str(exc)[:200]}"
    tz = str(tz or "UTC").strip()
    try:
        if len(tz) > 64:
            raise ValueError(tz)
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder's name
        errors["timezone"] = "Unknown time zone; use an IANA name such as Europe/Paris or UTC."
    if errors:
        raise ScheduleInvalid(errors)
    return cron, tz


def describe(cron: str, tz: str) -> str:
    """The schedule in words: 'At 02:00, only on Monday (Europe/Paris)'."""
    options = Options()
    options.use_24hour_time_format = True
    try:
        words = get_description(cron, options)
    except Exception:  # the cron was checked by crontab(); words are a nicety
        words = cron
    return f"{words} ({tz})"


def next_fire(schedule: Schedule, now: datetime | None = None) -> datetime | None:
    """When the schedule fires next (aware, in its zone); None when paused."""
    if schedule.paused:
        return None
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    local = (now or timezone.now()).astimezone(zone).replace(second=0, microsecond=0)
    entry = crontab(**dict(zip(FIELDS, schedule.cron.split(" "), strict=True)))
    # Walk forward, skipping a whole month, day or hour that cannot match: a few thousand steps
    # at most, over five years. As beat reads a crontab, a day of the month and a weekday
    # must both match (Unix cron takes either).
    candidate = local + timedelta(minutes=1)
    limit = local + timedelta(days=5 * 366)
    while candidate < limit:
        if candidate.month not in entry.month_of_year:
            year, month = divmod(candidate.year * 12 + candidate.month, 12)
            candidate = candidate.replace(year=year, month=month + 1, day=1, hour=0, minute=0)
        elif (
            candidate.day not in entry.day_of_month
            or candidate.isoweekday() % 7 not in entry.day_of_week
        ):
            candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
        elif candidate.hour not in entry.hour:
            candidate = (candidate + timedelta(hours=1)).replace(minute=0)
        elif candidate.minute not in entry.minute:
            candidate += timedelta(minutes=1)
        else:
            return candidate
    return None


def can_change(user, schedule: Schedule) -> bool:
    return bool(user and user.is_authenticated) and (
        is_admin(user) or schedule.created_by_id == user.pk
    )


def _audit(action: str, schedule: Schedule, by, request=None, **details) -> None:
    audit_record(
        action=action,
        request=request,
        actor=by,
        resource_type="schedule",
        resource_id=schedule.pk,
        details={
            "workflow_id": schedule.workflow_id,
            "cron": schedule.cron,
            "timezone": schedule.timezone,
            **details,
        },
    )


def _sync(schedule: Schedule) -> None:
    """Keep the beat entry in step with the schedule (same transaction)."""
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.cron.split(" ")
    entry, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zoneinfo.ZoneInfo(schedule.timezone),
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"maskflow schedule {schedule.pk}",
        defaults={
            "task": TASK,
            "crontab": entry,
            "kwargs": json.dumps({"schedule_id": schedule.pk}),
            "enabled": not schedule.paused,
            "description": f"workflow {schedule.workflow_id}",
        },
    )
    if schedule.periodic_task_id != task.pk:
        Schedule.objects.filter(pk=schedule.pk).update(periodic_task=task)
        schedule.periodic_task = task


def schedule_create(*, workflow, by, cron: str, tz: str = "UTC", request=None) -> Schedule:
    if not can_execute(by, workflow):
        raise PermissionDenied("Only the workflow's owner or an administrator can schedule it.")
    cron, tz = schedule_clean(cron, tz)
    with transaction.atomic():
        schedule = Schedule.objects.create(workflow=workflow, cron=cron, timezone=tz, created_by=by)
        _sync(schedule)
        _audit("schedule.create", schedule, by, request)
    return schedule


def schedule_update(
    *, schedule: Schedule, by, cron: str | None = None, tz: str | None = None, request=None
) -> Schedule:
    if not can_change(by, schedule):
        raise PermissionDenied("Only the schedule's owner or an administrator can change it.")
    new_cron, new_tz = schedule_clean(
        schedule.cron if cron is None else cron, schedule.timezone if tz is None else tz
    )
    with transaction.atomic():
        before = {"cron": schedule.cron, "timezone": schedule.timezone}
        schedule.cron, schedule.timezone = new_cron, new_tz
        schedule.save(update_fields=["cron", "timezone", "updated_at"])
        _sync(schedule)
        _audit("schedule.update", schedule, by, request, before=before)
    return schedule


def schedule_set_paused(*, schedule: Schedule, by, paused: bool, request=None) -> Schedule:
    if not can_change(by, schedule):
        raise PermissionDenied("Only the schedule's owner or an administrator can change it.")
    with transaction.atomic():
        schedule.paused = paused
        schedule.save(update_fields=["paused", "updated_at"])
        _sync(schedule)
        _audit("schedule.pause" if paused else "schedule.resume", schedule, by, request)
    return schedule


def schedule_delete(*, schedule: Schedule, by, request=None) -> None:
    if not can_change(by, schedule):
        raise PermissionDenied("Only the schedule's owner or an administrator can delete it.")
    with transaction.atomic():
        _audit("schedule.delete", schedule, by, request)
        task_id = schedule.periodic_task_id
        schedule.delete()
        if task_id:
            PeriodicTask.objects.filter(pk=task_id).delete()


def schedule_fire(*, schedule_id: int) -> Firing | None:
    """Beat's task: start a run as the schedule's owner, or record why it was skipped."""
    schedule = (
        Schedule.objects.select_related("workflow", "created_by").filter(pk=schedule_id).first()
    )
    if schedule is None:  # deleted after beat read its entry
        return None
    Schedule.objects.filter(pk=schedule.pk).update(last_fired_at=timezone.now())
    owner = schedule.created_by
    execution, reason = None, ""
    if schedule.paused:
        reason = "the schedule is paused"
    elif not owner.is_active:
        reason = f"the schedule's owner ({owner.username}) is deactivated"
    else:
        try:
            execution = execution_start(
                workflow=schedule.workflow, by=owner, trigger=Trigger.SCHEDULE, schedule=schedule
            )
        except ExecutionRefused as exc:
            if exc.code == "conflict":
                reason = (
                    f"the previous run of this workflow is still going (execution #{exc.active})"
                )
            else:
                reason = str(exc)
        except PermissionDenied:
            reason = f"the schedule's owner ({owner.username}) may no longer run this workflow"
        except Exception as exc:  # a plan that no longer builds: say so, never crash beat's task
            logger.warning(
                "schedule %s could not start a run (%s)", schedule.pk, type(exc).__name__
            )
            reason = f"the run could not start ({type(exc).__name__}); see the worker log"
    firing = Firing.objects.create(
        schedule=schedule,
        outcome=Firing.Outcome.STARTED if execution is not None else Firing.Outcome.SKIPPED,
        reason=reason[:300],
        execution=execution,
    )
    # Keep the recent history only: a schedule firing every minute would otherwise add half
    # a million rows a year (the runs themselves stay in the execution history).
    old = Firing.objects.filter(schedule=schedule).order_by("-fired_at", "-pk")[KEEP_FIRINGS:]
    Firing.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    if execution is None:
        audit_record(
            action="schedule.skip",
            status=AuditEvent.Status.FAILURE,
            actor=owner,
            resource_type="schedule",
            resource_id=schedule.pk,
            details={"workflow_id": schedule.workflow_id, "reason": reason[:300]},
        )
    return firing
