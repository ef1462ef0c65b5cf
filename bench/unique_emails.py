"""Many distinct e-mails through `email` on a unique column: duplicates, time and memory.

    python bench/unique_emails.py [--n 10000000] [--batch 100000]

Masks N distinct addresses in batches, as a run would, with no state shared between batches,
and counts duplicate outputs exactly (64-bit hashes of the outputs first; any repeated hash is
then compared as text). Prints values/s beside the cost of producing the same batches (the
baseline), and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import polars as pl
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from masking.schema import ColumnSpec, TypeCategory  # noqa: E402
from masking.techniques import MaskContext, make_masker  # noqa: E402


def batch(start: int, size: int) -> pa.Array:
    return (
        pl.select(
            pl.concat_str(
                pl.lit("user"),
                pl.int_range(start, start + size).cast(pl.String),
                pl.lit("@corp"),
                (pl.int_range(start, start + size) % 97).cast(pl.String),
                pl.lit(".example"),
            )
        )
        .to_series()
        .to_arrow()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    args = ap.parse_args()
    ctx = MaskContext(
        secret=os.urandom(32),
        column=ColumnSpec(TypeCategory.STRING, max_length=120, unique=True, name="email"),
    )
    masker = make_masker("email", None, ctx)
    hashes = np.empty(args.n, dtype=np.uint64)
    masking = building = 0.0
    for start in range(0, args.n, args.batch):
        size = min(args.batch, args.n - start)
        t0 = time.perf_counter()
        values = batch(start, size)
        t1 = time.perf_counter()
        out = masker(values)
        t2 = time.perf_counter()
        building += t1 - t0
        masking += t2 - t1
        hashes[start : start + size] = pl.from_arrow(out).hash(7).to_numpy()
    repeated = _repeated_hashes(hashes)
    duplicates = _exact_duplicates(masker, ctx, args, repeated) if len(repeated) else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"n={args.n:,} batch={args.batch:,}")
    print(f"email (unique column): {args.n / masking:,.0f} values/s, {masking:.1f} s masking")
    print(f"baseline (building the batches): {args.n / building:,.0f} values/s")
    print(f"duplicate outputs: {duplicates} (repeated 64-bit hashes checked: {len(repeated)})")
    print(f"peak RSS {rss:,.0f} MB")


def _repeated_hashes(hashes: np.ndarray) -> np.ndarray:
    s = np.sort(hashes)
    return np.unique(s[1:][s[1:] == s[:-1]])


def _exact_duplicates(masker, ctx, args, repeated: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    """Mask again and compare the outputs whose hashes repeat, as text."""
    again = make_masker("email", None, ctx)
    seen: dict[str, int] = {}
    for start in range(0, args.n, args.batch):
        out = pl.from_arrow(again(batch(start, min(args.batch, args.n - start))))
        hit = out.filter(out.hash(7).is_in(pl.Series(repeated)))
        for value in hit.to_list():
            seen[value] = seen.get(value, 0) + 1
    return sum(c - 1 for c in seen.values())


if __name__ == "__main__":
    main()
