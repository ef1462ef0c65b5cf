from django.conf import settings
from django.db import models
from django.utils import timezone


class ExecutionStatus(models.TextChoices):
    """queued → running → success | failed | cancelled; queued → cancelled; running → failed
    (reaper)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class Trigger(models.TextChoices):
    UI = "ui", "Web page"
    API = "api", "API"
    CLI = "cli", "Command line"
    SCHEDULE = "schedule", "Schedule"


class Execution(models.Model):
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="executions"
    )
    status = models.CharField(
        max_length=20,
        choices=ExecutionStatus.choices,
        default=ExecutionStatus.QUEUED,
        db_index=True,
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.UI)
    # The schedule that fired the run (trigger "schedule"); kept as history if it is deleted.
    schedule = models.ForeignKey(
        "schedules.Schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="executions",
    )
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="executions"
    )
    rows_processed = models.BigIntegerField(default=0)
    rows_masked = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    current_table = models.CharField(max_length=300, blank=True, default="")
    rows_per_second = models.FloatField(default=0)
    error_message = models.TextField(blank=True, default="")
    plan_snapshot = models.JSONField(default=dict)
    plan_hash = models.CharField(max_length=64, blank=True, default="")
    key_version = models.CharField(max_length=64, blank=True, default="")
    report = models.JSONField(default=dict, blank=True)
    # A run split into units (masking.staged): its layout, and how long the publish locked
    # the target (seconds; 0 for a run in one transaction, where the whole run holds it).
    layout = models.JSONField(default=dict, blank=True)
    lock_seconds = models.FloatField(default=0)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set just before the target commit, cleared when the worker records a failure: a run whose
    # worker is lost with it set may have committed (the reaper says so; it is not resumable).
    commit_started_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "executions"
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rows_masked__lte=models.F("rows_processed")),
                name="executions_masked_le_processed",
            ),
        ]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def percent(self) -> int:
        if self.status == ExecutionStatus.SUCCESS:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(self.rows_processed * 100 / self.rows_total))

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class ExecutionTable(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="tables")
    position = models.PositiveIntegerField(default=0)
    source_table = models.CharField(max_length=300)
    target_table = models.CharField(max_length=300)
    status = models.CharField(max_length=20, default="pending")
    rows_read = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    rows_masked = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    rows_per_second = models.FloatField(default=0)
    # How the rows went in (e.g. "bulk copy", or a fallback and its reason); never data.
    load_path = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "execution_tables"
        ordering = ["execution", "position"]


class UnitStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ExecutionUnit(models.Model):
    """One work unit of a staged run: a table, or a key range of one."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="units")
    index = models.PositiveIntegerField()
    table = models.CharField(max_length=300)
    level = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=UnitStatus.choices, default=UnitStatus.WAITING)
    worker = models.CharField(max_length=200, blank=True, default="")
    rows = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "execution_units"
        ordering = ["execution", "index"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "index"], name="execution_unit_index"),
        ]
