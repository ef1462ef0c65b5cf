import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.connections.services import connection_ensure_demo
from apps.core.demo import build_source, build_target

DEMO_USERS = (
    ("admin", Role.ADMIN, "MASKFLOW_ADMIN_PASSWORD"),
    ("analyst", Role.USER, "MASKFLOW_USER_PASSWORD"),
)


class Command(BaseCommand):
    help = "Create the demo SQLite source (realistic generated PII) and target, and demo users."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, default=1000, help="customers to generate (scales every table)"
        )
        parser.add_argument("--seed", type=int, default=2024)
        parser.add_argument("--keep", action="store_true", help="keep existing demo databases")

    def handle(self, *args, rows, seed, keep, **options):
        import os

        if rows < 1:
            raise CommandError("--rows must be at least 1")
        demo_dir = settings.DATA_DIR / "demo"
        source, target = demo_dir / "source.sqlite3", demo_dir / "target.sqlite3"
        if keep and source.exists():
            self.stdout.write(f"keeping {source}")
        else:
            counts = build_source(source, rows=rows, seed=seed)
            self.stdout.write(self.style.SUCCESS(f"source: {source} ({counts})"))
        if not (keep and target.exists()):
            build_target(target)
            self.stdout.write(self.style.SUCCESS(f"target: {target} (empty)"))

        User = get_user_model()
        for username, role, env_name in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"user {username} exists (password unchanged)")
                continue
            password = os.environ.get(env_name) or secrets.token_urlsafe(12)
            user_create(username=username, password=password, role=role, validate=False)
            shown = "from $" + env_name if os.environ.get(env_name) else password
            self.stdout.write(
                self.style.WARNING(f"created {role} '{username}' with password: {shown}")
            )

        for line in connection_ensure_demo(source=source, target=target):
            self.stdout.write(line)
