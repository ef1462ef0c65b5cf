"""Thin Celery wrappers: load by id, call the service, hold no logic."""

from celery import chain, group, shared_task

from apps.executions.services import execution_reap, execution_run
from apps.executions.services.resume import staging_reap, unit_resume
from apps.executions.services.units import (
    unit_begin,
    unit_publish,
    unit_resume_ready,
    unit_run,
    worker_name,
)

REAP_EVERY_SECONDS = 30.0


@shared_task(name="maskflow.run_execution", acks_late=True)
def run_execution(execution_id: int) -> str:
    execution = execution_run(execution_id=execution_id)
    return execution.status if execution is not None else "skipped"


@shared_task(name="maskflow.reap_executions")
def reap_executions(stale_after_seconds: int | None = None) -> list[int]:
    reaped = execution_reap(stale_after_seconds=stale_after_seconds)
    staging_reap()
    return reaped


@shared_task(name="maskflow.plan_units", acks_late=True)
def plan_units(execution_id: int) -> int:
    """Plan the run's units, then one group per dependency level, the publish last."""
    levels = unit_begin(execution_id=execution_id)
    if levels:
        steps = [group(run_unit.si(execution_id, i) for i in level) for level in levels]
        chain(*steps, publish_units.si(execution_id)).apply_async()
    return sum(len(level) for level in levels)


@shared_task(name="maskflow.resume_units", acks_late=True)
def resume_units(execution_id: int) -> int:
    """Run again the units a resumed run has not completed, then publish."""
    levels = [level for level in unit_resume(execution_id=execution_id) if level]
    steps = [group(run_unit.si(execution_id, i) for i in level) for level in levels]
    if unit_resume_ready(execution_id):
        chain(*steps, publish_units.si(execution_id)).apply_async()
    return sum(len(level) for level in levels)


@shared_task(name="maskflow.run_unit", acks_late=True, bind=True)
def run_unit(self, execution_id: int, index: int) -> str:
    host = getattr(self.request, "hostname", None)
    outcome = unit_run(execution_id=execution_id, index=index, worker=host or worker_name())
    if outcome == "busy":  # the source already serves as many readers as allowed
        raise self.retry(countdown=2, max_retries=None)
    return outcome


@shared_task(name="maskflow.publish_units", acks_late=True)
def publish_units(execution_id: int) -> str:
    return str(unit_publish(execution_id=execution_id))
