from django.core.management.base import BaseCommand, CommandError

from apps.audit.checkpoints import verify_full, verify_since_checkpoint
from apps.audit.services import audit_checkpoint_now


class Command(BaseCommand):
    help = (
        "Verify the audit trail's keyed chain and its signed checkpoints; exit code 1 at the "
        "first broken link. --since-checkpoint checks from the last checkpoint only; "
        "--checkpoint then writes a new one at the head."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since-checkpoint", action="store_true")
        parser.add_argument("--checkpoint", action="store_true")

    def handle(self, *args, **options):
        status = verify_since_checkpoint() if options["since_checkpoint"] else verify_full()
        if not status.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{status.broken_seq}: {status.reason} "
                f"({status.checked} events verified before it)",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain OK: {status.checked} events verified"))
        if options["checkpoint"]:
            checkpoint = audit_checkpoint_now()
            if checkpoint is not None:
                self.stdout.write(f"checkpoint written at event #{checkpoint.seq}")
