"""Thin Celery wrappers: tell a run's notifications, and make one webhook attempt each."""

from celery import shared_task

from apps.notifications.services import deliver_webhook, notifications_send


@shared_task(name="maskflow.notify_execution")
def notify_execution(execution_id: int) -> int:
    webhooks = notifications_send(execution_id=execution_id)
    for delivery_id in webhooks:
        deliver_webhook_task.delay(delivery_id)
    return len(webhooks)


@shared_task(name="maskflow.deliver_webhook")
def deliver_webhook_task(delivery_id: int) -> str:
    wait = deliver_webhook(delivery_id=delivery_id)
    if wait is not None:  # a new message, so a worker restart loses no retry it has not made
        deliver_webhook_task.apply_async((delivery_id,), countdown=wait)
        return "retrying"
    return "settled"
