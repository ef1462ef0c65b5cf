from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import PruneRefused, audit_prune


class Command(BaseCommand):
    help = (
        "Delete audit events older than --days (default AUDIT_RETENTION_DAYS). An audit.anchor "
        "event is appended first so the remaining chain still verifies; a broken chain is never "
        "pruned."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="keep this many days of events (default: settings.AUDIT_RETENTION_DAYS)",
        )

    def handle(self, *args, **options):
        days = options["days"] if options["days"] is not None else settings.AUDIT_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must be zero or more")
        try:
            result = audit_prune(days=days)
        except PruneRefused as exc:
            raise CommandError(str(exc), returncode=1) from None
        if result.anchor_seq is None:
            self.stdout.write(f"nothing older than {days} days; audit trail unchanged")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"pruned {result.deleted} audit events older than {days} days; first kept event "
                f"#{result.first_kept_seq}, anchor #{result.anchor_seq}"
            )
        )
