from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import audit_verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit code 1 at the first broken link."

    def handle(self, *args, **options):
        status = audit_verify_chain()
        if not status.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{status.broken_seq}: {status.reason} "
                f"({status.checked} events verified before it)",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain OK: {status.checked} events verified"))
