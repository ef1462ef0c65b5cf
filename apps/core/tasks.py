from celery import shared_task


@shared_task(name="maskflow.ping")
def ping(token: str = "") -> dict:
    """A trivial task: proves a worker process is consuming from the configured broker."""
    import os

    return {"pong": token, "worker_pid": os.getpid()}
