"""Pool-backed fakes: names, addresses, companies, e-mails, usernames, phones, IPs, URLs."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import ColumnSpec
from masking.techniques.keyed import below, mix64
from masking.techniques.pools import SAFE_DOMAINS, arrow_pool, name_slugs
from masking.techniques.registry import Impl, Param, S, Technique, register
from masking.techniques.strings import (
    arrow_items,
    concat,
    fixed_width,
    join,
    num,
    pick,
    put_digits,
    src_series,
    take,
    to_arrow,
    where,
)

_POOL_KINDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "street_address": "Street address",
    "city": "City",
    "state": "State / province",
    "postal_code": "Postal code",
    "country": "Country",
    "company": "Company",
}


def _pool_render(kind: str):
    def render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
        p = arrow_pool(kind, m.ctx.locale, 0, m.ctx.column.max_length)
        return p.take(pa.array(below(keys, len(p))))

    return render


def _pool_space(kind: str):
    def space(params: dict, column: ColumnSpec) -> int:
        return len(arrow_pool(kind, "en_US", 0, column.max_length))

    return space


for _kind, _label in _POOL_KINDS.items():
    register(
        Technique(
            _kind,
            _label,
            frozenset({S}),
            (),
            identity_hiding=True,
            deterministic=True,
            unique_capable=False,
            description=f"Realistic {_label.lower()} from a locale-specific pool. "
            "Never returns its input (pools hold thousands of values).",
        ),
        Impl(render=_pool_render(_kind), space=_pool_space(_kind)),
    )


# -- e-mail and username -----------------------------------------------------------------
EMAIL_MIN_LENGTH = 16  # 'u' + up to 8 hex digits + '@x.test' keeps an address valid


def _short_fallback(keys: np.ndarray, suffix: str) -> pl.Series:
    """Compact form for tight columns: still unique-friendly (32 bits of key)."""
    low = (keys & np.uint64(0xFFFFFFFF)).tolist()
    return pl.Series([f"u{k:x}{suffix}" for k in low], dtype=pl.String)


def _local_parts(keys: np.ndarray, m, sep: str) -> list:
    names = arrow_items(name_slugs(m.ctx.locale))
    first = names.take(pa.array(below(keys, len(names), 1)))
    last = names.take(pa.array(below(keys, len(names), 2)))
    # unique columns need a large space (~2e9); others look nicer with small numbers
    top = 1_000_000 if m.unique else 100
    n = pc.cast(pa.array(below(keys, top, 3)), pa.string())
    return [first, sep, last, n]


def _fit(out: pa.Array, keys: np.ndarray, limit: int | None, suffix: str) -> pa.Array:
    if limit is None or not len(out):
        return out
    too_long = pc.greater(pc.utf8_length(out), limit).to_numpy(zero_copy_only=False)
    if not too_long.any():
        return out
    return to_arrow(where(too_long, _short_fallback(keys, suffix), pl.from_arrow(out)))


def _email_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    if m.params["keep_domain"]:
        dom = to_arrow(
            src_series(src)
            .str.extract(r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})$", 1)
            .fill_null(SAFE_DOMAINS[0])
        )
    else:
        dom = arrow_items(SAFE_DOMAINS).take(pa.array(below(keys, len(SAFE_DOMAINS), 4)))
    out = join(*_local_parts(keys, m, "."), "@", dom)
    return _fit(out, keys, m.ctx.column.max_length, "@x.test")


def _username_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    out = join(*_local_parts(keys, m, "_"))
    return _fit(out, keys, m.ctx.column.max_length, "")


def _min_len(n: int, what: str):
    def check(params: dict, column: ColumnSpec) -> list[str]:
        if column.max_length is not None and column.max_length < n:
            return [f"{what} needs at least {n} characters, column allows {column.max_length}"]
        return []

    return check


register(
    Technique(
        "email",
        "E-mail address",
        frozenset({S}),
        (Param("keep_domain", "bool", False, help="Keep the original domain"),),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="first.last42@example.com; shorter u1a2b3c@x.test when the column is tight.",
    ),
    Impl(
        render=_email_render, space=lambda p, c: 2**31, check=_min_len(EMAIL_MIN_LENGTH, "e-mail")
    ),
)
register(
    Technique(
        "username",
        "Username",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="first_last42",
    ),
    Impl(render=_username_render, space=lambda p, c: 2**31, check=_min_len(9, "username")),
)

# -- phone ------------------------------------------------------------------------------
_NANP = {
    "en_US": (
        "201",
        "212",
        "213",
        "305",
        "312",
        "404",
        "415",
        "512",
        "617",
        "702",
        "713",
        "718",
        "773",
        "801",
        "808",
        "917",
        "206",
        "303",
        "480",
        "503",
    ),
    "en_CA": (
        "416",
        "647",
        "437",
        "905",
        "289",
        "613",
        "343",
        "604",
        "778",
        "236",
        "250",
        "403",
        "587",
        "780",
        "825",
        "306",
        "204",
        "506",
        "902",
        "709",
    ),
    "fr_CA": ("514", "438", "450", "579", "418", "581", "819", "873", "367", "263"),
}
PHONE_FORMATS = {
    "en_US": "(AAA) XXX-XXXX",
    "en_CA": "AAA-XXX-XXXX",
    "fr_CA": "AAA XXX-XXXX",
    "en_GB": "07XXX XXXXXX",
    "de_DE": "015X XXXXXXXX",
}


@lru_cache(maxsize=8)
def _area_bytes(loc: str) -> np.ndarray:
    return np.frombuffer("".join(_NANP[loc]).encode(), dtype=np.uint8).reshape(-1, 3)


def _phone_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    loc = m.ctx.locale if m.ctx.locale in PHONE_FORMATS else "en_US"
    template = PHONE_FORMATS[loc]
    mat = np.tile(np.frombuffer(template.encode(), dtype=np.uint8), (len(keys), 1))
    if loc in _NANP:
        a = template.index("A")
        mat[:, a : a + 3] = _area_bytes(loc)[below(keys, len(_NANP[loc]), 1)]
        x = template.index("X")
        put_digits(mat, x, 200 + below(keys, 800, 2), 3)  # exchanges never start with 0 or 1
        put_digits(mat, x + 4, below(keys, 10000, 3), 4)
    elif loc == "en_GB":
        put_digits(mat, 2, 400 + below(keys, 600, 1), 3)  # 074xx-079xx mobile ranges
        put_digits(mat, 6, below(keys, 1_000_000, 2), 6)
    else:
        put_digits(mat, 3, below(keys, 10, 1), 1)
        put_digits(mat, 5, below(keys, 100_000_000, 2), 8)
    out = fixed_width(mat)
    limit = m.ctx.column.max_length
    if limit is not None and len(template) > limit:
        out = to_arrow(pl.from_arrow(out).str.replace_all(r"\D", ""))
    return out


def _phone_check(params: dict, column: ColumnSpec) -> list[str]:
    if column.max_length is not None and column.max_length < 11:
        return [f"phone numbers need at least 11 characters, column allows {column.max_length}"]
    return []


register(
    Technique(
        "phone",
        "Phone number",
        frozenset({S}),
        (
            Param(
                "locale",
                "choice",
                None,
                choices=("en_US", "en_CA", "fr_CA", "en_GB", "de_DE"),
                help="Override the workflow locale",
            ),
        ),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Locale-shaped numbers; digits only when the column is tight.",
    ),
    Impl(
        render=lambda k, s, a, m: _phone_render(k, s, a, _LocaleView(m)),
        space=lambda p, c: 6_000_000,
        check=_phone_check,
    ),
)


class _LocaleView:
    """Masker proxy whose ctx.locale honours the technique's own ``locale`` parameter."""

    def __init__(self, m) -> None:
        self._m = m
        loc = m.params.get("locale") or m.ctx.locale
        self.ctx = type("Ctx", (), {"locale": loc, "column": m.ctx.column})()

    def __getattr__(self, name: str):
        return getattr(self._m, name)


@lru_cache(maxsize=1)
def _hex16() -> pa.Array:
    return pa.array([f"{i:x}" for i in range(65536)], pa.string())


# -- network ----------------------------------------------------------------------------
def _ip_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    # private ranges only: masked data must not point at real hosts
    v4 = concat(
        "10.",
        num(below(keys, 256, 1)),
        ".",
        num(below(keys, 256, 2)),
        ".",
        num(1 + below(keys, 254, 3)),
    )
    is6 = src_series(src).str.contains(":").fill_null(False).to_numpy()
    if not is6.any():
        return to_arrow(v4)
    h = mix64(keys, 7)
    groups = [
        take(_hex16(), ((h >> np.uint64(16 * i)) & np.uint64(0xFFFF)).astype(np.int64))
        for i in range(4)
    ]
    v6 = concat("fd00::", groups[0], ":", groups[1], ":", groups[2], ":", groups[3])
    limit = m.ctx.column.max_length
    if limit is not None:
        is6 &= (v6.str.len_chars() <= limit).to_numpy()
    return to_arrow(where(is6, v6, v4))


register(
    Technique(
        "ip_address",
        "IP address",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Private-range IPv4 (10.x.x.x) or ULA IPv6 (fd00::), following the input.",
    ),
    Impl(
        render=_ip_render, space=lambda p, c: 256 * 256 * 254, check=_min_len(15, "IPv4 addresses")
    ),
)


def _url_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    words = arrow_pool("word", "en_US")
    out = concat(
        "https://www.",
        pick(SAFE_DOMAINS, below(keys, 3, 1)),
        "/",
        take(words, below(keys, len(words), 2)),
        "/",
        num(below(keys, 10**9, 3)),
    )
    limit = m.ctx.column.max_length
    if limit is not None:
        too_long = (out.str.len_chars() > limit).to_numpy()
        if too_long.any():
            out = where(too_long, concat("https://x.test/", num(below(keys, 10**6, 4))), out)
    return to_arrow(out)


register(
    Technique(
        "url",
        "URL",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="https://www.example.org/word/123456789",
    ),
    Impl(
        render=_url_render,
        space=lambda p, c: 10**6 if c.max_length and c.max_length < 50 else 10**9,
        check=_min_len(21, "URLs"),
    ),
)
