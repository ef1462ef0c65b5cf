from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "apps.executions"
    label = "executions"

    def ready(self) -> None:
        # The reaper runs every 30 s under Celery beat (`celery -A config worker -B`, or a separate
        # `celery -A config beat`). Pages and the API also reap when they list executions, so a
        # deployment without beat still recovers from a dead worker.
        from apps.executions.tasks import REAP_EVERY_SECONDS
        from config.celery import app

        schedule = dict(app.conf.beat_schedule or {})
        schedule.setdefault(
            "maskflow-reap-executions",
            {
                "task": "maskflow.reap_executions",
                "schedule": REAP_EVERY_SECONDS,
            },
        )
        app.conf.beat_schedule = schedule
