from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.executions.signals import execution_ended
        from apps.notifications.services import notify_end

        def on_end(sender, execution_id: int, **_: object) -> None:
            notify_end(execution_id)

        execution_ended.connect(on_end, dispatch_uid="maskflow.notifications", weak=False)
