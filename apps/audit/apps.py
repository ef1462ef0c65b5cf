from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"

    def ready(self) -> None:
        # Imported here, as Django asks of signal receivers: models are loaded by now.
        from apps.audit.receivers import record_server_error
        from apps.core.signals import server_error

        server_error.connect(record_server_error, dispatch_uid="audit-server-error")
