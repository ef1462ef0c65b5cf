"""Pool-backed fakes: names, addresses, companies, e-mails, usernames, phones (IPs and URLs
are in network.py).

Every output is a function of the value's key and the column group's length limit only.
E-mails, usernames and URLs spell out the whole 64-bit key (a name pair plus a number), so
two values share an output only when their keys collide; phone numbers go through a keyed
permutation of the number (``fpe.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import ColumnSpec
from masking.techniques.fpe import renumber
from masking.techniques.keyed import below
from masking.techniques.pools import SAFE_DOMAINS, arrow_pool, name_slugs
from masking.techniques.registry import (
    Impl,
    Param,
    S,
    Technique,
    key_collisions,
    min_length,
    register,
)
from masking.techniques.strings import (
    arrow_items,
    base36,
    digit_rows,
    digits_only,
    digits_value,
    fixed_width,
    join,
    put_digits,
    src_series,
    to_arrow,
    value_digits,
)

try:
    from masking.techniques import _digits  # type: ignore[attr-defined]
except ImportError:  # a source tree without the built extension: national_reference
    _digits = None

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
        p = arrow_pool(kind, m.ctx.locale, m.ctx.column.max_length)
        return p.take(pa.array(below(keys, len(p))))

    return render


def _pool_space(kind: str):
    def space(params: dict, column: ColumnSpec) -> int:
        return len(arrow_pool(kind, "en_US", column.max_length))

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
            description=f"Realistic {_label.lower()} from a locale-specific pool (versioned "
            "data files). Never returns its input (pools hold hundreds to thousands of values). "
            "The pool is narrowed to the shortest column masked with the same technique.",
        ),
        Impl(render=_pool_render(_kind), space=_pool_space(_kind)),
    )


# -- e-mail and username -----------------------------------------------------------------
# Forms, chosen by the length the whole column group allows (never per column):
#   full:    first.last<number>@domain  -- the name pair and the number spell out the key
#   compact: u<13 base-36 digits>@x.test -- the key itself
EMAIL_FULL_LENGTH = 50  # 12 + 1 + 12 + 13 digits + '@' + 'example.com'
EMAIL_MIN_LENGTH = 21  # 'u' + 13 + '@x.test'
USERNAME_FULL_LENGTH = 38
USERNAME_MIN_LENGTH = 14


def _name_parts(keys: np.ndarray, m, sep: str) -> list:
    """first<sep>last<number>: with ``s`` name slugs, first = k mod s, last = (k div s) mod s
    and number = k div s², so the local part spells out the whole key (slugs are letters
    only, so it also reads back unambiguously)."""
    names = arrow_items(name_slugs(m.ctx.locale))
    s = np.uint64(len(names))
    first = names.take(pa.array((keys % s).astype(np.int64)))
    rest = keys // s
    last = names.take(pa.array((rest % s).astype(np.int64)))
    number = pc.cast(pa.array(rest // s, pa.uint64()), pa.string())
    return [first, sep, last, number]


def _fits(limit: int | None, full: int) -> bool:
    return limit is None or limit >= full


def _email_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    limit = m.ctx.column.max_length
    if m.params["keep_domain"]:
        dom = to_arrow(
            src_series(src)
            .str.extract(r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})$", 1)
            .fill_null(SAFE_DOMAINS[0])
        )
        full = join(*_name_parts(keys, m, "."), "@", dom)
        if limit is None:
            return full
        # the domain is the input's: a value whose full form is too long takes the compact
        # local part (a function of the value and the group's limit, so still consistent)
        short = join("u", base36(keys), "@", dom)
        tiny = join("u", base36(keys), "@x.test")  # not even the domain fits: drop it
        out = pc.if_else(pc.greater(pc.utf8_length(full), limit), short, full)
        return pc.if_else(pc.greater(pc.utf8_length(out), limit), tiny, out)
    if _fits(limit, EMAIL_FULL_LENGTH):
        dom = arrow_items(SAFE_DOMAINS).take(pa.array(below(keys, len(SAFE_DOMAINS), 4)))
        return join(*_name_parts(keys, m, "."), "@", dom)
    return join("u", base36(keys), "@x.test")


def _username_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    if _fits(m.ctx.column.max_length, USERNAME_FULL_LENGTH):
        return join(*_name_parts(keys, m, "_"))
    return join("u", base36(keys))


register(
    Technique(
        "email",
        "E-mail address",
        frozenset({S}),
        (Param("keep_domain", "bool", False, help="Keep the original domain"),),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="first.last123@example.com, where the name pair and the number spell out "
        f"the value's 64-bit key; u1a2b3c4d5e6f@x.test when a column of the group holds fewer "
        f"than {EMAIL_FULL_LENGTH} characters. " + key_collisions(),
    ),
    Impl(
        render=_email_render, space=lambda p, c: 2**64, check=min_length(EMAIL_MIN_LENGTH, "e-mail")
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
        description="first_last123, spelling out the value's 64-bit key; u1a2b3c4d5e6f when a "
        f"column of the group holds fewer than {USERNAME_FULL_LENGTH} characters. "
        + key_collisions(),
    ),
    Impl(
        render=_username_render,
        space=lambda p, c: 2**64,
        check=min_length(USERNAME_MIN_LENGTH, "username"),
    ),
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
PHONE_FORMATS = {  # 'X' marks a digit
    "en_US": "(XXX) XXX-XXXX",
    "en_CA": "XXX-XXX-XXXX",
    "fr_CA": "XXX XXX-XXXX",
    "en_GB": "XXXXX XXXXXX",
    "de_DE": "XXXX XXXXXXXX",
}
# national numbers: digits, how many leading digits are kept (area code, mobile prefix) and
# the permutation that renumbers the rest; NANP locales share one, so a number masks the
# same way in an en_US and an en_CA workflow
_NATIONAL = {
    "en_US": (10, 3, "phone/nanp"),
    "en_CA": (10, 3, "phone/nanp"),
    "fr_CA": (10, 3, "phone/nanp"),
    "en_GB": (11, 3, "phone/gb-mobile"),
    "de_DE": (12, 4, "phone/de-mobile"),
}
_NANP_SUBSCRIBERS = 800 * 10_000  # exchange 200-999 (never 0 or 1 first), line 0000-9999


@lru_cache(maxsize=8)
def _area_bytes(loc: str) -> np.ndarray:
    return np.frombuffer("".join(_NANP[loc]).encode(), dtype=np.uint8).reshape(-1, 3)


def _national(src: pa.Array, loc: str) -> tuple[np.ndarray, np.ndarray]:
    """The input as the locale's national digits, and which rows are valid numbers."""
    width = _NATIONAL[loc][0]
    nanp = loc in _NANP
    prefix = "1" if nanp else ("44" if loc == "en_GB" else "49")
    if _digits is not None:
        mat, ok = _national_native(src, width, nanp, prefix)
    else:
        mat, ok = national_reference(src, width, nanp, prefix)
    if nanp:
        ok &= (mat[:, 0] >= ord("2")) & (mat[:, 3] >= ord("2"))
    elif loc == "en_GB":
        ok &= (mat[:, 1] == ord("7")) & (mat[:, 0] == ord("0"))
    else:
        ok &= (mat[:, 0] == ord("0")) & (mat[:, 1] == ord("1"))
        ok &= (mat[:, 2] >= ord("5")) & (mat[:, 2] <= ord("7"))
    return mat, ok


def national_reference(
    src: pa.Array, width: int, trunk: bool, prefix: str
) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) national digits of each value and which rows have exactly `width` of them:
    the value's ASCII digits, a trunk `prefix` ('1') dropped from width + 1 digits starting
    with it, or a country `prefix` ('44') replaced by '0'. _digits.national does the same in
    one pass in C; this is the version it is tested against."""
    d = digits_only(src).cast(pa.string())
    if trunk:
        drop = pc.and_(pc.equal(pc.utf8_length(d), width + 1), pc.starts_with(d, prefix))
        d = pc.if_else(drop, pc.utf8_slice_codeunits(d, len(prefix)), d)
    else:
        national = pc.binary_join_element_wise("0", pc.utf8_slice_codeunits(d, len(prefix)), "")
        d = pc.if_else(pc.starts_with(d, prefix), national, d)
    return digit_rows(d, width)


def _national_native(
    src: pa.Array, width: int, trunk: bool, prefix: str
) -> tuple[np.ndarray, np.ndarray]:
    text = src.cast(pa.large_string())
    n = len(text)
    mat = np.zeros((n, width), dtype=np.uint8)
    ok = np.zeros(n, dtype=np.uint8)
    if n:
        bufs = text.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=text.offset * 8)
        valid = text.is_valid().to_numpy(zero_copy_only=False).view(np.uint8)
        data = bufs[2] if bufs[2] is not None else b""
        mode = 0 if trunk else 1
        _digits.national(data, offsets, valid, width, mode, prefix.encode(), mat, ok)
    return mat, ok.view(bool)


def _invented(keys: np.ndarray, loc: str) -> np.ndarray:
    """National digits drawn from the keys, for inputs that are not valid numbers."""
    width = _NATIONAL[loc][0]
    mat = np.zeros((len(keys), width), dtype=np.uint8)
    if loc in _NANP:
        mat[:, 0:3] = _area_bytes(loc)[below(keys, len(_NANP[loc]), 1)]
        put_digits(mat, 3, 200 + below(keys, 800, 2), 3)  # exchanges never start with 0 or 1
        put_digits(mat, 6, below(keys, 10000, 3), 4)
    elif loc == "en_GB":
        put_digits(mat, 0, 7400 + below(keys, 600, 1), 5)  # 074xx-079xx mobile ranges
        put_digits(mat, 5, below(keys, 1_000_000, 2), 6)
    else:
        put_digits(mat, 0, 150 + below(keys, 10, 1), 4)
        put_digits(mat, 4, below(keys, 100_000_000, 2), 8)
    return mat


def _subscribers(
    mat: np.ndarray, ok: np.ndarray, keys: np.ndarray, attempt: np.ndarray, loc: str, m
) -> None:
    """Renumber the subscriber digits (after the kept area code or prefix), in place."""
    width, kept, label = _NATIONAL[loc]
    value = digits_value(mat[:, kept:])
    if loc in _NANP:
        size = _NANP_SUBSCRIBERS
        value = (value // np.uint64(10_000) - np.uint64(200)) * np.uint64(10_000) + (
            value % np.uint64(10_000)
        )
    else:
        size = 10 ** (width - kept)
    value = renumber(m, attempt, ok, value, size, label, below(keys, size, 5))
    if loc in _NANP:
        value = (value // np.uint64(10_000) + np.uint64(200)) * np.uint64(10_000) + (
            value % np.uint64(10_000)
        )
    mat[:, kept:] = value_digits(value, width - kept)


def _phone_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    loc = m.params.get("locale") or m.ctx.locale
    loc = loc if loc in PHONE_FORMATS else "en_US"
    mat, ok = _national(src, loc)
    if not m.keyed:
        ok[:] = False
    # numbers that are not valid keep nothing of the input: area or prefix drawn from the key
    mat[~ok] = _invented(keys[~ok], loc)
    _subscribers(mat, ok, keys, attempt, loc, m)
    template = PHONE_FORMATS[loc]
    limit = m.ctx.column.max_length
    if limit is not None and len(template) > limit:
        return fixed_width(mat)  # digits only when a column of the group is tight
    out = np.tile(np.frombuffer(template.encode(), dtype=np.uint8), (len(keys), 1))
    out[:, [i for i, ch in enumerate(template) if ch == "X"]] = mat
    return fixed_width(out)


def _phone_check(params: dict, column: ColumnSpec) -> list[str]:
    if column.max_length is not None and column.max_length < 12:
        return [f"phone numbers need at least 12 characters, column allows {column.max_length}"]
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
        description="Locale-shaped numbers, digits only when a column of the group is tight. "
        "A valid national number keeps its area code (or mobile prefix) and its subscriber "
        "digits go through a keyed permutation without fixed points, so different numbers "
        "never share an output; other inputs get a number drawn from their key (these can "
        "collide, which fails a unique column's run without showing a value).",
    ),
    Impl(render=_phone_render, space=lambda p, c: _NANP_SUBSCRIBERS, check=_phone_check),
)
