"""Throughput of every masking technique beside a one-Faker-call-per-value baseline.

    python bench/techniques.py [--n 1000000] [--batch 100000] [--only email,sin]

Prints values/s in deterministic and random mode, the Faker baseline (measured in the same
run on a smaller N and extrapolated), the speed-up, and the peak memory of one batch
(tracemalloc: Python and numpy allocations) plus Arrow's peak pool allocation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable

import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from faker import Faker  # noqa: E402

from masking.schema import ColumnSpec, TypeCategory  # noqa: E402
from masking.techniques import MaskContext, all_techniques, make_masker  # noqa: E402
from masking.techniques.registry import get_impl  # noqa: E402

FAKER_CALL: dict[str, Callable[[Faker], object]] = {
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "full_name": lambda f: f.name(),
    "email": lambda f: f.email(),
    "phone": lambda f: f.phone_number(),
    "street_address": lambda f: f.street_address(),
    "city": lambda f: f.city(),
    "state": lambda f: f.state(),
    "postal_code": lambda f: f.postcode(),
    "country": lambda f: f.country(),
    "company": lambda f: f.company(),
    "username": lambda f: f.user_name(),
    "ssn": lambda f: f.ssn(),
    "sin": lambda f: f.ssn(),
    "credit_card": lambda f: f.credit_card_number(),
    "iban": lambda f: f.iban(),
    "passport": lambda f: f.passport_number(),
    "ip_address": lambda f: f.ipv4_private(),
    "url": lambda f: f.url(),
    "hash": lambda f: f.sha256(),
    "random_uuid": lambda f: f.uuid4(),
    "random_number": lambda f: f.pyint(0, 1000),
    "hash_number": lambda f: f.pyint(),
    "random_date": lambda f: f.date_between(),
    "birth_date": lambda f: f.date_of_birth(),
    "date_shift": lambda f: f.date_between(),
    "datetime_shift": lambda f: f.date_time(),
    "random_boolean": lambda f: f.pybool(),
    "free_text_redact": lambda f: f.sentence(),
}
POOL_BASED = {
    "first_name",
    "last_name",
    "full_name",
    "street_address",
    "city",
    "state",
    "postal_code",
    "country",
    "company",
    "email",
    "username",
    "phone",
}
FAST_CATEGORIES = {
    TypeCategory.NUMERIC,
    TypeCategory.DATE,
    TypeCategory.DATETIME,
    TypeCategory.TIME,
}


def inputs(category: TypeCategory, n: int) -> pa.Array:
    if category is TypeCategory.NUMERIC:
        return pa.array(range(n), pa.int64())
    if category is TypeCategory.DATE:
        return pa.array([i % 30000 for i in range(n)], pa.int32()).cast(pa.date32())
    if category is TypeCategory.DATETIME:
        return pa.array([i * 61_000_000 for i in range(n)], pa.timestamp("us"))
    if category is TypeCategory.TIME:
        return pa.array([(i * 1_000_003) % 86_400_000_000 for i in range(n)], pa.time64("us"))
    if category is TypeCategory.BOOLEAN:
        return pa.array([i % 3 == 0 for i in range(n)])
    if category is TypeCategory.BINARY:
        return pa.array([b"%d" % i for i in range(n)])
    return pa.array(
        [
            f"Call jo{i}@corp.com or 416-555-{i % 10000:04d}" if i % 7 == 0 else f"4{i:015d}"
            for i in range(n)
        ]
    )


def rate(
    name: str, category: TypeCategory, data: pa.Array, batch: int, deterministic: bool
) -> float:
    params = {"pattern": "[0-9]"} if name == "regex_replace" else None
    ctx = MaskContext(secret=b"bench", deterministic=deterministic, column=ColumnSpec(category))
    masker = make_masker(name, params, ctx)
    masker(data.slice(0, min(1000, len(data))))  # warm pools and caches outside the timing
    # repeat short runs so trivial techniques are not timed on a few microseconds
    done, elapsed = 0, 0.0
    while elapsed < 0.3 or not done:
        start = time.perf_counter()
        for i in range(0, len(data), batch):
            masker(data.slice(i, batch))
        elapsed += time.perf_counter() - start
        done += len(data)
    return done / elapsed


def batch_peak_mb(name: str, category: TypeCategory, data: pa.Array) -> float:
    params = {"pattern": "[0-9]"} if name == "regex_replace" else None
    masker = make_masker(name, params, MaskContext(secret=b"bench", column=ColumnSpec(category)))
    masker(data.slice(0, 100))
    tracemalloc.start()
    masker(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def faker_rate(name: str, n: int) -> float | None:
    call = FAKER_CALL.get(name)
    if call is None:
        return None
    f = Faker("en_US")
    f.seed_instance(0)
    start = time.perf_counter()
    for _ in range(n):
        call(f)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--faker-n", type=int, default=20_000)
    ap.add_argument(
        "--slow-n", type=int, default=50_000, help="N for per-value techniques (tokenize, text)"
    )
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    data_cache: dict[TypeCategory, pa.Array] = {}
    slow = {"tokenize", "free_text_redact", "partial_mask", "regex_replace", "hash"}
    print(
        f"N={args.n:,} batch={args.batch:,} faker baseline on {args.faker_n:,} values "
        f"(per-value techniques on {args.slow_n:,}); {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    head = (
        f"{'technique':<17}{'category':<9}{'det v/s':>15}{'rand v/s':>15}{'det/rand':>9}"
        f"{'faker v/s':>11}{'speed-up':>10}{'batch MB':>10}  goal"
    )
    print(head)
    print("-" * len(head))
    for t in all_techniques():
        if only and t.name not in only:
            continue
        cat = sorted(t.categories, key=lambda c: list(TypeCategory).index(c))[0]
        if t.name in ("null_out", "keep", "shuffle"):
            cat = TypeCategory.STRING
        if cat not in data_cache:
            data_cache[cat] = inputs(cat, args.n)
        n = args.slow_n if t.name in slow else args.n
        data = data_cache[cat].slice(0, n)
        det = rate(t.name, cat, data, args.batch, True)
        # techniques that do not draw keys (keep, shuffle, text rewrites) have no random mode
        keyed = get_impl(t.name).render is not None and t.deterministic
        rnd = rate(t.name, cat, data, args.batch, False) if keyed else det
        fk = faker_rate(t.name, args.faker_n)
        peak = batch_peak_mb(t.name, cat, data.slice(0, args.batch))
        goal = ""
        if t.name in POOL_BASED:
            goal = "ok" if fk and det >= 50 * fk else "MISS >=50x faker"
        elif cat in FAST_CATEGORIES and t.name != "sequence":
            goal = "ok" if det >= 1_000_000 else "MISS >=1M/s"
        if keyed and det < 0.5 * rnd:
            goal += " MISS det>=rand/2"
        speed = f"{det / fk:9.0f}x" if fk else f"{'-':>10}"
        print(
            f"{t.name:<17}{cat.value:<9}{det:15,.0f}{rnd:15,.0f}{det / rnd:9.2f}"
            f"{(f'{fk:,.0f}' if fk else '-'):>11}{speed}{peak:10.1f}  {goal}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS {rss:,.0f} MB; "
        f"arrow pool peak {pa.default_memory_pool().max_memory() / 2**20:,.0f} MB"
    )


if __name__ == "__main__":
    main()
