"""CPU seconds a bench stage used, beside its wall time: the stage's own process (every thread,
and programs it ran, such as the limit's `psql`) and the local database servers' processes
(backends and background workers), read from /proc.

Where the stage's CPU seconds approach twice its wall time on a 2-core machine, the stage is
CPU-bound: any work added to it (masking, parsing, encoding) lengthens it by about half its
CPU seconds, however well it overlaps. Linux only; a server elsewhere shows as 0."""

from __future__ import annotations

import os
import resource

_SERVERS = (b"postgres", b"mariadbd", b"mysqld")


def own_seconds() -> float:
    """This process's CPU seconds, with those of the children it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def server_seconds() -> float:
    """CPU seconds of the database server processes on this machine so far: each one's own, and
    those of its children that have ended (a PostgreSQL backend, once its session closes,
    counts towards the postmaster that waited for it). The difference of two readings is the
    servers' work between them, sessions opened and closed meanwhile included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                head, _, rest = f.read().rpartition(b")")
        except OSError:
            continue  # reaped meanwhile: its parent's reading has it
        # the program's name, even where a server rewrites its command line (and in a
        # process that has ended but is not yet waited for)
        if head.partition(b"(")[2] in _SERVERS:
            total += sum(int(v) for v in rest.split()[11:15])  # utime, stime, cutime, cstime
    return total / tick
