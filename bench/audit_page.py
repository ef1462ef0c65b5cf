"""The audit page with a long chain: how long a page load takes with N events.

    python bench/audit_page.py [--events 1000000] [--database-url postgres://...]

Builds a valid keyed chain of N events (with a checkpoint every AUDIT_CHECKPOINT_EVERY events,
as appending them one by one would), in a fresh app database (SQLite in a temporary folder
unless --database-url is given), then times GET /audit/ as an admin, and for comparison the
full check (`verify_audit`) that pages no longer run."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(n: int, every: int) -> None:
    from django.utils import timezone

    from apps.audit import keys
    from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
    from apps.audit.services import GENESIS, canonical, checkpoint_message

    kid = keys.current_key_id()
    prev, now, batch, checkpoints = GENESIS, timezone.now(), [], []
    for seq in range(1, n + 1):
        e = AuditEvent(
            seq=seq, timestamp=now, action="bench.event", status="success",
            resource_type="thing", resource_id=str(seq), details={"n": seq},
            prev_hash=prev, key_id=kid,
        )  # fmt: skip
        e.hash = keys.sign(kid, canonical(e)) or ""
        prev = e.hash
        batch.append(e)
        if every and seq % every == 0:
            signature = keys.sign(kid, checkpoint_message(seq, prev)) or ""
            checkpoints.append(
                AuditCheckpoint(seq=seq, hash=prev, key_id=kid, signature=signature, created_at=now)
            )
        if len(batch) == 20_000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    AuditCheckpoint.objects.bulk_create(checkpoints)
    AuditChainHead.objects.update_or_create(id=1, defaults={"seq": n, "hash": prev})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="maskflow-audit-bench-")
    os.environ["MASKFLOW_DATA_DIR"] = tmp
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/app.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    from apps.accounts.models import User
    from apps.audit.checkpoints import verify_full

    t0 = time.perf_counter()
    build(args.events, settings.AUDIT_CHECKPOINT_EVERY)
    print(f"built {args.events:,} events in {time.perf_counter() - t0:.1f}s", flush=True)
    admin = User.objects.create_user("bench_admin", password="x-Bench-Pass-123", role="admin")
    client = Client()
    client.force_login(admin)
    times = []
    for _ in range(args.loads):
        t = time.perf_counter()
        response = client.get("/audit/")
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200 and response.context["chain"].ok
    print(f"GET /audit/ with {args.events:,} events: best {min(times):.0f} ms, "
          f"median {sorted(times)[len(times) // 2]:.0f} ms (goal: under 500 ms)")  # fmt: skip
    t = time.perf_counter()
    status = verify_full()
    print(f"full check (verify_audit): {status.checked:,} events in {time.perf_counter() - t:.1f}s,"
          f" ok={status.ok}")  # fmt: skip


if __name__ == "__main__":
    main()
