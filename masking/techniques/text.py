"""Text techniques: partial masking, keyed hash, regex replace, fixed value, shuffle, redaction."""

from __future__ import annotations

import functools
import hashlib
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.redact import keyed_int, redact_text
from masking.schema import ColumnSpec
from masking.techniques.canonical import canonical
from masking.techniques.keyed import KEY_SCHEME, derive, stream_keys
from masking.techniques.registry import DT, B, D, Impl, N, Param, S, T, Technique, U, register


def _constant(value: str, _match: re.Match[str]) -> str:
    """A re.sub replacement taken literally (no group references)."""
    return value


def _py(values: pa.Array) -> list:
    return values.cast(pa.string()).to_pylist()


def _fit(out: list, limit: int | None) -> list:
    if limit is None:
        return out
    return [v if v is None or len(v) <= limit else v[:limit] for v in out]


# -- partial_mask ---------------------------------------------------------------------------
def partial(value: str, first: int, last: int, ch: str, limit: int | None = None) -> str:
    """'john.doe@example.com' -> 'j***@example.com'; '4111111111111111' -> '4***********1111'."""
    if "@" in value and value.count("@") == 1 and value.index("@") > 0:
        local, domain = value.split("@")
        stars = (
            3
            if limit is None or len(value) - len(local) + first + 3 <= limit
            else max(1, len(local) - first)
        )
        out = f"{local[:first]}{ch * stars}@{domain}"
        return out if out != value else ch * len(value)
    n = len(value)
    if n <= first + last:
        return ch * n
    return value[:first] + ch * (n - first - last) + (value[n - last :] if last else "")


def _partial_apply(values: pa.Array, m, offset: int) -> pa.Array:
    p = m.params
    lim = m.ctx.column.max_length
    out = [
        None if v is None else partial(v, p["keep_first"], p["keep_last"], p["mask_char"], lim)
        for v in _py(values)
    ]
    return pa.array(_fit(out, lim), pa.string())


def _one_char(params: dict) -> dict[str, str]:
    return {} if len(params["mask_char"]) == 1 else {"mask_char": "must be exactly one character"}


register(
    Technique(
        "partial_mask",
        "Partial mask",
        frozenset({S}),
        (
            Param("keep_first", "int", 1, min=0, max=50, help="Characters kept at the start"),
            Param("keep_last", "int", 0, min=0, max=50, help="Characters kept at the end"),
            Param("mask_char", "str", "*", help="Masking character"),
        ),
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="Keeps the first/last characters: j***@example.com. Exception: a value "
        "made only of the mask character is returned unchanged.",
    ),
    Impl(apply=_partial_apply, extra_validate=_one_char),
)


# -- hash -----------------------------------------------------------------------------------
def _hash_len(params: dict, column: ColumnSpec) -> int:
    n = params["length"]
    return min(n, column.max_length) if column.max_length else n


def _hash_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    n = _hash_len(m.params, m.ctx.column)
    size = (n + 1) // 2
    if not m.keyed:  # random mode: from the row's stream key
        return pa.array(
            [
                hashlib.blake2b(int(k).to_bytes(8, "little"), digest_size=size).hexdigest()[:n]
                for k in keys.tolist()
            ],
            pa.string(),
        )
    key = derive(m.ctx.secret, f"{KEY_SCHEME}/hash")
    category = m.ctx.column.extra.get("source_category") or m.ctx.column.category
    data = canonical(src, category).to_pylist()
    out = [
        hashlib.blake2b(v + (b"\0%d" % a if a else b""), key=key, digest_size=size).hexdigest()[:n]
        for v, a in zip(data, attempt.tolist(), strict=True)
    ]
    return pa.array(out, pa.string())


register(
    Technique(
        "hash",
        "Keyed hash",
        frozenset({S}),
        (Param("length", "int", 32, min=4, max=128, help="Hex characters kept"),),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Keyed BLAKE2b of the canonical value, in hex, cut to the shortest column "
        "of its group (at most 'length' characters). Unique columns: 16 or more hex digits "
        "carry 64 bits or more, so a collision is as unlikely as for a 64-bit key.",
    ),
    Impl(
        render=_hash_render,
        space=lambda p, c: 16 ** min(_hash_len(p, c), 15),
        check=lambda p, c: (
            ["hash needs at least 4 characters"] if c.max_length and c.max_length < 4 else []
        ),
    ),
)


# -- regex_replace / fixed_value ------------------------------------------------------------
# Patterns come from users and run on the web server (preview) and the workers: they run under
# RE2 (inside pyarrow's compute kernels), whose time is linear in the input whatever the pattern,
# and which releases the interpreter lock. Python's `re` backtracks: `^(\w|[^!]|\S)*!$` on 100 KB
# ran for seconds and froze every thread of the process. The registry refuses patterns RE2
# cannot run (backreferences, lookaround) and patterns over its length limit.
def _regex_apply(values: pa.Array, m, offset: int) -> pa.Array:
    out = pc.replace_substring_regex(
        values.cast(pa.string()), m.params["pattern"], m.params["replacement"]
    )
    return pa.array(_fit(out.to_pylist(), m.ctx.column.max_length), pa.string())


def _regex_validate(params: dict) -> dict[str, str]:
    try:
        pc.replace_substring_regex(pa.array([""]), params["pattern"], params["replacement"])
    except pa.ArrowInvalid as exc:
        return {"replacement": f"is not valid for this pattern ({str(exc).splitlines()[0]})"}
    return {}


register(
    Technique(
        "regex_replace",
        "Regex replace",
        frozenset({S}),
        (
            Param(
                "pattern",
                "regex",
                None,
                required=True,
                help="Regular expression (RE2 syntax: no backreferences or lookaround)",
            ),
            Param("replacement", "str", "*", help="Replacement; \\1 refers to groups"),
        ),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(apply=_regex_apply, extra_validate=_regex_validate),
)


def _fixed_apply(values: pa.Array, m, offset: int) -> pa.Array:
    v = m.params["value"]
    lim = m.ctx.column.max_length
    v = v[:lim] if lim is not None else v
    return pc.if_else(values.is_valid(), pa.scalar(v, pa.string()), pa.scalar(None, pa.string()))


register(
    Technique(
        "fixed_value",
        "Fixed value",
        frozenset({S}),
        (Param("value", "str", "MASKED", help="Text written into every row"),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(apply=_fixed_apply),
)


# -- shuffle --------------------------------------------------------------------------------
def shuffle_apply(values: pa.Array, m, offset: int) -> pa.Array:
    valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
    seed = (
        m.ctx.seed
        if not m.ctx.deterministic
        else int.from_bytes(derive(m.ctx.secret, "shuffle")[:8], "little")
    )
    order = np.argsort(stream_keys(len(valid), offset, seed, "shuffle"))
    take = np.arange(len(values))
    take[valid] = valid[order]
    return values.take(pa.array(take))


register(
    Technique(
        "shuffle",
        "Shuffle",
        frozenset({S, N, D, DT, T, B, U}),
        (),
        identity_hiding=False,
        deterministic=False,
        unique_capable=True,
        description="Permutes the non-NULL values within each block of rows the run reads "
        "together (the workflow's batch size, in primary-key order): values never move between "
        "blocks, and a value can land on its own row. The permutation is keyed, so a re-run "
        "over the same rows gives the same result, but it follows rows, not values: do not use "
        "it on a column other tables join on.",
    ),
    Impl(apply=shuffle_apply),
)


# -- free_text_redact -----------------------------------------------------------------------
def _redact_apply(values: pa.Array, m, offset: int) -> pa.Array:
    secret = m.ctx.secret if m.ctx.deterministic else m.ctx.seed.to_bytes(16, "little", signed=True)
    keyed = keyed_int(secret)
    mode = m.params["mode"]
    out = [None if v is None else redact_text(v, mode, keyed) for v in _py(values)]
    return pa.array(_fit(out, m.ctx.column.max_length), pa.string())


def replace_row_names(
    texts: pa.Array,
    names: list[tuple[pa.Array, pa.Array]],
    mode: str,
    max_length: int | None = None,
) -> pa.Array:
    """Free text after redaction, with the row's own people replaced too: `names` pairs each
    name column's source values with its masked values, row for row. A note that says
    "call Zebulon" about the row whose first name, Zebulon, was masked to Ann says "call Ann"
    (or "call [NAME]" in tag mode). Whole words, any case; each word of a longer name too."""
    if not names:
        return texts
    rows = texts.to_pylist()
    pairs = [(src.to_pylist(), dst.to_pylist()) for src, dst in names]
    out = []
    for i, text in enumerate(rows):
        if text is not None:
            for src, dst in pairs:
                text = _swap_name(text, src[i], dst[i], mode)
        out.append(text)
    return pa.array(_fit(out, max_length), pa.string())


def _name_swaps(name: str, new: str) -> list[tuple[str, str]]:
    """ "Zebulon Quixote" -> itself, and "Zebulon" and "Quixote" on their own."""
    words, new_words = name.split(), new.split()
    swaps = [(name, new)]
    if len(words) > 1:
        swaps += [
            (w, new_words[j] if len(new_words) == len(words) else new)
            for j, w in enumerate(words)
            if len(w) >= 3
        ]
    return swaps


def _word(name: str) -> re.Pattern[str]:
    # The name is escaped: a literal, matched in linear time.
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)


def mentions_name(text: str, name: object) -> bool:
    """Whether `text` names `name` (or a word of it) as a whole word, in any case."""
    if not isinstance(name, str) or len(name.strip()) < 2:
        return False
    return any(
        old.lower() in text.lower() and _word(old).search(text)
        for old, _ in _name_swaps(name.strip(), name.strip())
    )


def _swap_name(text: str, name: object, new: object, mode: str) -> str:
    if not isinstance(name, str) or len(name.strip()) < 2:
        return text
    name = name.strip()
    new = "[NAME]" if mode == "tag" or not isinstance(new, str) else new.strip()
    for old, replacement in _name_swaps(name, new):
        if old.lower() in text.lower():
            text = _word(old).sub(functools.partial(_constant, replacement), text)
    return text


register(
    Technique(
        "free_text_redact",
        "Redact PII in free text",
        frozenset({S}),
        (
            Param(
                "mode",
                "choice",
                "fake",
                choices=("fake", "tag"),
                help="fake: realistic stand-ins; tag: [EMAIL], [PHONE], ...",
            ),
        ),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
        description="Finds e-mails, phones, cards, SSN/SIN, IPs and cued names inside text, "
        "and the row's own names where its name columns are masked.",
    ),
    Impl(apply=_redact_apply),
)
