"""Run a workflow from a CI pipeline.

    manage.py run_workflow <id|name> [--wait] [--user USERNAME] [--timeout S]
    manage.py run_workflow --resume EXECUTION_ID [--wait] [--user USERNAME]

Without --wait the execution is queued for a worker and its id printed. With --wait it runs in
this process (no broker or worker needed), printing progress lines, and the exit code tells the
pipeline how it ended: 0 success, 1 failed, 2 cancelled. --resume takes a failed or cancelled
run split into units up again: its complete units are kept, the others run again."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus, Trigger
from apps.workflows.models import Workflow

EXIT_CODES = {ExecutionStatus.SUCCESS: 0, ExecutionStatus.FAILED: 1, ExecutionStatus.CANCELLED: 2}


class Command(BaseCommand):
    help = (
        "Start a workflow's execution (for CI pipelines); "
        "--wait runs it here and sets the exit code."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", nargs="?", help="workflow id or name")
        parser.add_argument(
            "--resume", type=int, metavar="EXECUTION_ID", help="resume this failed run"
        )
        parser.add_argument(
            "--wait", action="store_true", help="run in this process and wait for the result"
        )
        parser.add_argument(
            "--user", help="username the execution is recorded for (default: the workflow's owner)"
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=0,
            help="with --wait: cancel the run after this many seconds (0: no limit)",
        )

    def handle(self, *args, **opts):
        if opts["resume"]:
            return self._resume(opts)
        ref = opts["workflow"] or ""
        workflow = Workflow.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
        workflow = workflow or Workflow.objects.filter(name=ref).first()
        if workflow is None:
            raise CommandError(f"No workflow with id or name '{ref}'.")
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user '{opts['user']}'.")
        else:
            user = workflow.created_by
        try:
            execution = services.execution_start(
                workflow=workflow, by=user, trigger=Trigger.CLI, enqueue=not opts["wait"]
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        except services.ExecutionRefused as exc:
            raise CommandError(str(exc)) from exc
        if not opts["wait"]:
            self.stdout.write(f"execution {execution.pk} queued")
            return
        self.stdout.write(f"execution {execution.pk} running workflow '{workflow.name}'")
        code = self._run_inline(execution, opts["timeout"])
        if code:
            raise SystemExit(code)

    def _run_inline(self, execution: Execution, timeout: float) -> int:
        def show(update) -> None:
            pct = f"{update.percent:.0f}%" if update.percent is not None else "?%"
            self.stdout.write(f"{update.table} {update.rows_done} {pct}")

        result = services.execution_run(
            execution_id=execution.pk, on_update=show, timeout=timeout or None
        )
        execution = result or Execution.objects.get(pk=execution.pk)
        for t in execution.tables.order_by("position", "pk"):
            self.stdout.write(f"{t.target_table} {t.rows_written} rows {t.status}")
        line = (
            f"execution {execution.pk} {execution.status}: {execution.rows_processed} rows "
            "processed, "
            f"{execution.rows_masked} masked"
        )
        if execution.error_message:
            line += f" - {execution.error_message}"
        (self.stdout if execution.status == ExecutionStatus.SUCCESS else self.stderr).write(line)
        return EXIT_CODES.get(execution.status, 1)

    def _resume(self, opts) -> None:
        from apps.executions.services.resume import ResumeRefused, execution_resume, unit_resume
        from apps.executions.services.units import unit_publish, unit_run

        execution = Execution.objects.filter(pk=opts["resume"]).first()
        if execution is None:
            raise CommandError(f"No execution {opts['resume']}.")
        user = execution.executed_by
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user '{opts['user']}'.")
        try:
            execution = execution_resume(execution=execution, by=user)
        except (PermissionDenied, ResumeRefused) as exc:
            raise CommandError(str(exc)) from exc
        if not opts["wait"]:
            from apps.executions.tasks import resume_units

            resume_units.delay(execution.pk)
            self.stdout.write(f"execution {execution.pk} resumed")
            return
        levels = unit_resume(execution_id=execution.pk)
        pending = [i for level in levels for i in level]
        self.stdout.write(f"execution {execution.pk} resumed: {len(pending)} unit(s) to run")
        for index in pending:
            unit_run(execution_id=execution.pk, index=index)
        unit_publish(execution_id=execution.pk)
        execution.refresh_from_db()
        self.stdout.write(f"execution {execution.pk} {execution.status}")
        code = EXIT_CODES.get(execution.status, 1)
        if code:
            raise SystemExit(code)
