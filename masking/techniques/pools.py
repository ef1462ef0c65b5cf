"""Realistic value pools, generated once per (kind, locale, seed) with Faker and cached.

Techniques index these pools with keyed hashes instead of calling Faker per value: Faker runs
a few thousand times per pool, then masking a million rows is a vectorised ``take``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import pyarrow as pa
from faker import Faker
from faker.providers.person import Provider as PersonProvider

POOL_SIZE = 3000
SAFE_DOMAINS = ("example.com", "example.org", "example.net")

_FAKER_LOCALE = {
    "en_US": "en_US",
    "en_CA": "en_CA",
    "fr_CA": "fr_CA",
    "en_GB": "en_GB",
    "de_DE": "de_DE",
}


def faker_locale(locale: str) -> str:
    return _FAKER_LOCALE.get(locale, "en_US")


def ascii_slug(text: str) -> str:
    """'Émilie-Anne' -> 'emilie-anne': e-mail local parts and usernames stay plain ASCII."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", norm.lower())


def _street(f: Faker) -> str:
    return f.street_address().replace("\n", " ")


_GENERATORS: dict[str, Callable[[Faker], str]] = {
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "full_name": lambda f: f"{f.first_name()} {f.last_name()}",
    "street_address": _street,
    "city": lambda f: f.city(),
    "state": lambda f: f.administrative_unit(),
    "postal_code": lambda f: f.postcode(),
    "country": lambda f: f.country(),
    "company": lambda f: f.company().replace("\n", " "),
    "word": lambda f: ascii_slug(f.word()),
}


# pool kinds drawn straight from a person provider's weighted list, in one call
_NAME_LISTS = {"first_name": "first_names", "last_name": "last_names"}


def _bulk_draws(f: Faker, kind: str, count: int) -> list[str] | None:
    """``count`` draws with the provider's own weights in one ``random_elements`` call, when
    the locale's provider picks ``kind`` from a plain list (None: use single calls)."""
    attr = _NAME_LISTS.get(kind)
    if attr is None:
        return None
    method = getattr(f, kind)
    provider = getattr(method, "__self__", None)
    elements = getattr(provider, attr, None)
    if provider is None or not isinstance(elements, dict | tuple | list) or not elements:
        return None
    # only when the provider draws the value as one element of that list
    if getattr(method, "__func__", None) is not getattr(PersonProvider, kind):
        return None
    return [str(v) for v in provider.random_elements(elements, length=count, unique=False)]


def pool(kind: str, locale: str, seed: int = 0) -> tuple[str, ...]:
    """Distinct values, in a stable order for a given Faker version, locale and seed."""
    return _pool(kind, locale, seed)


@lru_cache(maxsize=256)
def _pool(kind: str, locale: str, seed: int) -> tuple[str, ...]:
    f = Faker(faker_locale(locale))
    f.seed_instance(seed)
    seen: dict[str, None] = {}
    draws = _bulk_draws(f, kind, POOL_SIZE * 3)
    if draws is not None:
        for v in draws:
            v = v.strip()
            if v:
                seen.setdefault(v, None)
        return tuple(seen)[:POOL_SIZE]
    gen = _GENERATORS[kind]
    for _ in range(POOL_SIZE * 3):
        v = gen(f).strip()
        if v:
            seen.setdefault(v, None)
        if len(seen) >= POOL_SIZE:
            break
    return tuple(seen)


def arrow_pool(kind: str, locale: str, seed: int = 0, max_length: int | None = None) -> pa.Array:
    """The pool as an arrow array, restricted to values that fit ``max_length``; when
    nothing fits (very short columns) values are cut to the limit instead."""
    return _arrow_pool(kind, locale, seed, max_length)


@lru_cache(maxsize=256)
def _arrow_pool(kind: str, locale: str, seed: int, max_length: int | None) -> pa.Array:
    values = pool(kind, locale, seed)
    if max_length is not None:
        fitting = [v for v in values if len(v) <= max_length]
        if len(fitting) < 2:
            fitting = list(dict.fromkeys(v[:max_length] for v in values))
        values = tuple(fitting)
    return pa.array(values, pa.string())


@lru_cache(maxsize=64)
def name_slugs(locale: str, seed: int = 0) -> tuple[str, ...]:
    """ASCII first/last name fragments for e-mails and usernames (never end in a digit)."""
    out = {
        ascii_slug(v) for v in pool("first_name", locale, seed) + pool("last_name", locale, seed)
    }
    return tuple(sorted(v for v in out if 2 <= len(v) <= 12 and v.isalpha()))
