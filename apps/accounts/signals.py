from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    channel = "api" if request is not None and request.path.startswith("/api/") else "page"
    audit_record(action="auth.login", request=request, actor=user, details={"channel": channel})


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The attempted username is recorded (who was targeted); the password never is.
    audit_record(
        action="auth.login",
        status=AuditEvent.Status.FAILURE,
        request=request,
        actor_username=str(credentials.get("username", ""))[:150],
        details={"reason": "invalid credentials or inactive account"},
    )


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="auth.logout", request=request, actor=user)
