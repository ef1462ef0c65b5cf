"""List, add, pause, resume and delete workflow schedules.

    manage.py schedules list [--workflow ID|NAME]
    manage.py schedules add WORKFLOW "CRON" [--timezone ZONE] [--user USERNAME] [--paused]
    manage.py schedules pause|resume|delete SCHEDULE_ID [--user USERNAME]

Changes are made, checked and audited as --user (default: the workflow's owner for add, the
schedule's owner otherwise)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from apps.schedules import services
from apps.schedules.models import Schedule
from apps.schedules.selectors import schedule_output
from apps.workflows.models import Workflow


def _workflow(ref: str) -> Workflow:
    workflow = Workflow.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    workflow = workflow or Workflow.objects.filter(name=ref).first()
    if workflow is None:
        raise CommandError(f"No workflow with id or name '{ref}'.")
    return workflow


def _user(username: str | None, default):  # type: ignore[no-untyped-def]
    if not username:
        return default
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user '{username}'.")
    return user


class Command(BaseCommand):
    help = "List, add, pause, resume and delete workflow schedules (cron in a time zone)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "add", "pause", "resume", "delete"])
        parser.add_argument("target", nargs="?", help="workflow (add) or schedule id")
        parser.add_argument("cron", nargs="?", help='add: five fields, e.g. "0 2 * * 1"')
        parser.add_argument("--workflow", help="list: only this workflow's schedules")
        parser.add_argument("--timezone", default="UTC", help="add: IANA zone (default UTC)")
        parser.add_argument("--user", help="act as this user (checked and audited)")
        parser.add_argument("--paused", action="store_true", help="add: start paused")

    def handle(self, *args, **opts):
        action = opts["action"]
        try:
            if action == "list":
                return self._list(opts)
            if action == "add":
                return self._add(opts)
            return self._change(action, opts)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        except services.ScheduleInvalid as exc:
            raise CommandError(str(exc)) from exc

    def _list(self, opts) -> None:
        schedules = Schedule.objects.select_related("workflow", "created_by").order_by("pk")
        if opts["workflow"]:
            schedules = schedules.filter(workflow=_workflow(opts["workflow"]))
        for s in schedules:
            out = schedule_output(s, firings=1)
            state = "paused" if s.paused else f"next {out['next_fire_at']}"
            self.stdout.write(
                f"{s.pk}\t{s.workflow.name}\t{s.cron}\t{s.timezone}\t{state}\t"
                f"{out['description']}\towner {s.created_by.username}"
            )

    def _add(self, opts) -> None:
        if not opts["target"] or not opts["cron"]:
            raise CommandError('Usage: schedules add WORKFLOW "CRON" [--timezone ZONE]')
        workflow = _workflow(opts["target"])
        by = _user(opts["user"], workflow.created_by)
        schedule = services.schedule_create(
            workflow=workflow, by=by, cron=opts["cron"], tz=opts["timezone"]
        )
        if opts["paused"]:
            services.schedule_set_paused(schedule=schedule, by=by, paused=True)
        self.stdout.write(
            f"schedule {schedule.pk} added: {services.describe(schedule.cron, schedule.timezone)}"
            + (" (paused)" if opts["paused"] else "")
        )

    def _change(self, action: str, opts) -> None:
        ref = opts["target"] or ""
        schedule = Schedule.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
        if schedule is None:
            raise CommandError(f"No schedule with id '{ref}'.")
        by = _user(opts["user"], schedule.created_by)
        if action == "delete":
            services.schedule_delete(schedule=schedule, by=by)
        else:
            services.schedule_set_paused(schedule=schedule, by=by, paused=action == "pause")
        self.stdout.write(f"schedule {ref} {action}d")
