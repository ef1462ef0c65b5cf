"""Realistic value pools, read from versioned data files in ``data/<locale>/<kind>.txt``.

Techniques index these pools with keyed hashes instead of calling Faker per value, and the
pools are data in the repository rather than Faker's lists at run time, so an upgrade of any
library leaves masked values unchanged. ``scripts/build_pools.py`` wrote them (with Faker);
changing a file changes the outputs of every workflow, which the golden test reports.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

DATA = Path(__file__).resolve().parent / "data"
POOL_SIZE = 3000
LOCALES = ("en_US", "en_CA", "fr_CA", "en_GB", "de_DE")
KINDS = (
    "first_name",
    "last_name",
    "full_name",
    "street_address",
    "city",
    "state",
    "postal_code",
    "country",
    "company",
    "word",
)
SAFE_DOMAINS = ("example.com", "example.org", "example.net")  # reserved by RFC 2606


def ascii_slug(text: str) -> str:
    """'Émilie-Anne' -> 'emilieanne': e-mail local parts and usernames stay plain ASCII."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", norm.lower())


def pool(kind: str, locale: str) -> tuple[str, ...]:
    """The pool's distinct values in file order (``word`` exists for en_US only)."""
    return _pool(kind, locale if locale in LOCALES and kind != "word" else "en_US")


@lru_cache(maxsize=64)
def _pool(kind: str, locale: str) -> tuple[str, ...]:
    if kind not in KINDS:
        raise KeyError(f"no pool named '{kind}'")
    text = (DATA / locale / f"{kind}.txt").read_text(encoding="utf-8")
    return tuple(dict.fromkeys(line for line in text.splitlines() if line))


def arrow_pool(kind: str, locale: str, max_length: int | None = None) -> pa.Array:
    """The pool as an arrow array, restricted to values that fit ``max_length``; when
    nothing fits (very short columns) values are cut to the limit instead."""
    return _arrow_pool(kind, locale, max_length)


@lru_cache(maxsize=256)
def _arrow_pool(kind: str, locale: str, max_length: int | None) -> pa.Array:
    values = pool(kind, locale)
    if max_length is not None:
        fitting = [v for v in values if len(v) <= max_length]
        if len(fitting) < 2:
            fitting = list(dict.fromkeys(v[:max_length] for v in values))
        values = tuple(fitting)
    return pa.array(values, pa.string())


@lru_cache(maxsize=16)
def name_slugs(locale: str) -> tuple[str, ...]:
    """ASCII first/last name fragments for e-mails and usernames: letters only, 2 to 12 of
    them, sorted, so a local part parses back into its parts."""
    out = {ascii_slug(v) for v in pool("first_name", locale) + pool("last_name", locale)}
    return tuple(sorted(v for v in out if 2 <= len(v) <= 12 and v.isalpha()))
