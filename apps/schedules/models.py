"""A workflow's schedules: cron expressions in a time zone, fired by Celery beat.

The cron and the zone are the truth; each schedule owns the django-celery-beat PeriodicTask
that beat reads (kept in step by services._sync). Every firing is recorded, started or skipped
with its reason, so a refresh that did not happen says why."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Schedule(models.Model):
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="schedules"
    )
    cron = models.CharField(max_length=120)  # five fields: minute hour day month weekday
    timezone = models.CharField(max_length=64, default="UTC")
    paused = models.BooleanField(default=False)
    # Runs it starts are executed by (and permission-checked as) its owner.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules"
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "schedules"
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone})"


class Firing(models.Model):
    class Outcome(models.TextChoices):
        STARTED = "started", "Started a run"
        SKIPPED = "skipped", "Skipped"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="firings")
    fired_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True, default="")
    execution = models.ForeignKey(
        "executions.Execution", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "schedule_firings"
        ordering = ["-fired_at", "-pk"]
