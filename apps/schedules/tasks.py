"""Thin Celery wrapper: beat sends one of these per firing of a schedule."""

from celery import shared_task

from apps.schedules.services import schedule_fire


@shared_task(name="maskflow.fire_schedule")
def fire_schedule(schedule_id: int) -> str:
    firing = schedule_fire(schedule_id=schedule_id)
    return firing.outcome if firing is not None else "gone"
