"""Write the value pools behind the name, address and company techniques as data files.

The pools are versioned data (masking/techniques/data/<locale>/<kind>.txt), so masked values
never change because a Faker release changed its lists. Run this only to add a locale or a
kind; re-running it with another Faker version rewrites the files, which changes masked
outputs (the golden test then fails on purpose, and the change needs a new key scheme).

    .venv/bin/python scripts/build_pools.py
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

from faker import Faker
from faker.providers.person import Provider as PersonProvider

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from masking.techniques.pools import DATA, KINDS, LOCALES, POOL_SIZE  # noqa: E402

_FAKER_LOCALE = {
    "en_US": "en_US",
    "en_CA": "en_CA",
    "fr_CA": "fr_CA",
    "en_GB": "en_GB",
    "de_DE": "de_DE",
}
_NAME_LISTS = {"first_name": "first_names", "last_name": "last_names"}


def ascii_slug(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", norm.lower())


_GENERATORS: dict[str, Callable[[Faker], str]] = {
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "full_name": lambda f: f"{f.first_name()} {f.last_name()}",
    "street_address": lambda f: f.street_address().replace("\n", " "),
    "city": lambda f: f.city(),
    "state": lambda f: f.administrative_unit(),
    "postal_code": lambda f: f.postcode(),
    "country": lambda f: f.country(),
    "company": lambda f: f.company().replace("\n", " "),
    "word": lambda f: ascii_slug(f.word()),
}


def _bulk_draws(f: Faker, kind: str, count: int) -> list[str] | None:
    """Draws with the provider's own weights in one call, where it picks from a plain list."""
    attr = _NAME_LISTS.get(kind)
    if attr is None:
        return None
    method = getattr(f, kind)
    provider = getattr(method, "__self__", None)
    elements = getattr(provider, attr, None)
    if provider is None or not isinstance(elements, dict | tuple | list) or not elements:
        return None
    if getattr(method, "__func__", None) is not getattr(PersonProvider, kind):
        return None
    return [str(v) for v in provider.random_elements(elements, length=count, unique=False)]


def build(kind: str, locale: str) -> list[str]:
    f = Faker(_FAKER_LOCALE[locale])
    f.seed_instance(0)
    seen: dict[str, None] = {}
    draws = _bulk_draws(f, kind, POOL_SIZE * 3)
    values = draws if draws is not None else (_GENERATORS[kind](f) for _ in range(POOL_SIZE * 3))
    for v in values:
        v = " ".join(v.split())
        if v:
            seen.setdefault(v, None)
        if len(seen) >= POOL_SIZE:
            break
    return list(seen)


def main() -> None:
    for locale in LOCALES:
        for kind in KINDS:
            if kind == "word" and locale != "en_US":
                continue
            path = DATA / locale / f"{kind}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(build(kind, locale)) + "\n", encoding="utf-8")
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
