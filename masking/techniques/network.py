"""Network fakes: IP addresses and URLs, each a function of the value's key (and, for a URL,
the column group's length limit)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.techniques.keyed import below, mix64
from masking.techniques.pools import SAFE_DOMAINS, arrow_pool
from masking.techniques.registry import Impl, S, Technique, key_collisions, min_length, register
from masking.techniques.strings import (
    arrow_items,
    base36,
    concat,
    join,
    num,
    src_series,
    take,
    to_arrow,
    where,
)


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
        unique_capable=False,
        description="Private-range IPv4 (10.x.x.x) or ULA IPv6 (fd00::), following the input. "
        "Not for unique columns: the 16.6 million private IPv4 addresses are too few for a "
        "keyed mapping to keep thousands of addresses apart (use hash or tokenize there).",
    ),
    Impl(
        render=_ip_render,
        space=lambda p, c: 256 * 256 * 254,
        check=min_length(15, "IPv4 addresses"),
    ),
)


URL_FULL_LENGTH = 60  # https://www. + example.com + / + word + / + number


def _url_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    limit = m.ctx.column.max_length
    if limit is not None and limit < URL_FULL_LENGTH:
        return join("https://x.test/", base36(keys))
    # word = k mod w and number = k div w: the path spells out the whole key
    words = arrow_pool("word", "en_US")
    w = np.uint64(len(words))
    word = words.take(pa.array((keys % w).astype(np.int64)))
    number = pc.cast(pa.array(keys // w, pa.uint64()), pa.string())
    domain = arrow_items(SAFE_DOMAINS).take(pa.array(below(keys, len(SAFE_DOMAINS), 1)))
    return join("https://www.", domain, "/", word, "/", number)


register(
    Technique(
        "url",
        "URL",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="https://www.example.org/word/123456789, where the word and the number "
        "spell out the value's 64-bit key; https://x.test/1a2b3c4d5e6f7 when a column of the "
        f"group holds fewer than {URL_FULL_LENGTH} characters. " + key_collisions(),
    ),
    Impl(render=_url_render, space=lambda p, c: 2**64, check=min_length(28, "URLs")),
)
