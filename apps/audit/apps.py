from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"

    def ready(self):
        # Registers the OpenAPI authentication schemes (JWT bearer, session) for the API schema.
        from apps.core import security  # noqa: F401
