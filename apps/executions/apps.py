from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "apps.executions"
    label = "executions"

    def ready(self) -> None:
        # Every worker reaps in a thread of its own (apps.executions.reaper), beat or no beat.
        # Under beat (`-B` or `celery beat`) the task below runs as well, and pages and the API
        # reap when they list executions.
        from celery.signals import worker_ready, worker_shutdown

        from apps.executions.reaper import reaper_start, reaper_stop
        from apps.executions.tasks import REAP_EVERY_SECONDS
        from config.celery import app

        worker_ready.connect(reaper_start, weak=False, dispatch_uid="maskflow-reaper-start")
        worker_shutdown.connect(reaper_stop, weak=False, dispatch_uid="maskflow-reaper-stop")

        schedule = dict(app.conf.beat_schedule or {})
        schedule.setdefault(
            "maskflow-reap-executions",
            {
                "task": "maskflow.reap_executions",
                "schedule": REAP_EVERY_SECONDS,
            },
        )
        app.conf.beat_schedule = schedule
