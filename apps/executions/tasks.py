"""Thin Celery wrappers: load by id, call the service, hold no logic."""

from celery import shared_task

from apps.executions.services import execution_reap, execution_run

REAP_EVERY_SECONDS = 30.0


@shared_task(name="maskflow.run_execution", acks_late=True)
def run_execution(execution_id: int) -> str:
    execution = execution_run(execution_id=execution_id)
    return execution.status if execution is not None else "skipped"


@shared_task(name="maskflow.reap_executions")
def reap_executions(stale_after_seconds: int = 60) -> list[int]:
    return execution_reap(stale_after_seconds=stale_after_seconds)
