"""Government and financial identifiers: SSN, SIN, payment cards, IBAN, passports.

A valid input is read as an index into the set of valid identifiers of its kind and mapped
through a keyed permutation of that set without fixed points (``fpe.py``): the output is
valid, differs from the input, and two different valid inputs never share an output, so
unique columns stay unique by construction at any size. An input that is not a valid
identifier gets one drawn from its key instead (such outputs can collide; a unique column's
run then fails without showing a value).

Outputs are built compact (alphanumerics only, with valid check digits) and then laid out
like the input: separators found in the input are re-inserted at the same positions, so
'046 454 286' stays 'ddd ddd ddd' and '4111-1111-1111-1111' keeps its dashes.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from masking.techniques.fpe import renumber
from masking.techniques.keyed import below, luhn_check_digit, mix64
from masking.techniques.registry import Impl, S, Technique, min_length, register
from masking.techniques.strings import (
    as_series,
    digit_rows,
    digits_value,
    fixed_width,
    src_series,
    to_arrow,
    value_digits,
)

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PERMUTED = (
    "Valid inputs go through a keyed permutation of the valid {what} without fixed points, so "
    "different valid inputs never share an output (unique by construction); other inputs get "
    "one drawn from their key."
)


def chars(keys: np.ndarray, alphabet: str, count: int, salt: int) -> np.ndarray:
    """(n, count) matrix of byte codes drawn from ``alphabet``."""
    table = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    out = np.empty((len(keys), count), dtype=np.uint8)
    k = mix64(keys, salt)
    for i in range(count):
        if i and i % 8 == 0:
            k = mix64(k, salt + i)
        out[:, i] = table[(k % np.uint64(len(alphabet))).astype(np.int64)]
        k = k // np.uint64(len(alphabet))
    return out


def mat_str(mat: np.ndarray) -> pl.Series:
    return as_series(fixed_width(mat))


def compact_digits(src: pa.Array) -> pl.Series:
    return src_series(src).str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase()


def layout_like(compact: pl.Series, src: pa.Array, canonical, limit: int | None) -> pa.Array:
    """Re-apply the input's separators; fall back to ``canonical`` when the shapes differ."""
    s = src_series(src)
    has_sep = s.str.contains(r"[^0-9A-Za-z]").fill_null(False).to_numpy()
    if has_sep.any():
        rows = np.flatnonzero(has_sep)
        laid = []
        for cv, ov in zip(compact.gather(rows).to_list(), s.gather(rows).to_list(), strict=True):
            # only plain separators are copied; anything else gets the canonical layout
            if any(not (ch.isascii() and ch.isalnum()) and ch not in " -./" for ch in ov) or sum(
                ch.isascii() and ch.isalnum() for ch in ov
            ) != len(cv):
                laid.append(canonical(cv))
                continue
            it = iter(cv)
            laid.append("".join(next(it) if ch.isascii() and ch.isalnum() else ch for ch in ov))
        compact_rows = compact.gather(rows)
        if limit is not None:
            laid = [
                v if len(v) <= limit else c
                for v, c in zip(laid, compact_rows.to_list(), strict=True)
            ]
        compact = compact.scatter(rows, pl.Series(laid, dtype=pl.String))
    return to_arrow(compact)


def _limit(m) -> int | None:
    return m.ctx.column.max_length


# -- SSN ---------------------------------------------------------------------------------
SSN_SIZE = 898 * 99 * 9999  # areas 001-899 without 666, groups 01-99, serials 0001-9999


def _ssn_index(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = digits_value(mat).astype(np.int64)
    area, group, serial = v // 1_000_000, v // 10_000 % 100, v % 10_000
    ok = (area >= 1) & (area <= 899) & (area != 666) & (group >= 1) & (serial >= 1)
    area_idx = area - 1 - (area > 666)
    return ((area_idx * 99 + group - 1) * 9999 + serial - 1).astype(np.uint64), ok


def _ssn_digits(index: np.ndarray) -> np.ndarray:
    i = index.astype(np.int64)
    serial, rest = i % 9999 + 1, i // 9999
    group, area_idx = rest % 99 + 1, rest // 99
    area = area_idx + 1 + (area_idx >= 665)
    return value_digits((area * 1_000_000 + group * 10_000 + serial).astype(np.uint64), 9)


def _ssn_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    mat, ok = digit_rows(to_arrow(compact_digits(src)), 9)
    index, valid = _ssn_index(mat)
    index = renumber(m, attempt, valid & ok, index, SSN_SIZE, "ssn", below(keys, SSN_SIZE, 1))
    compact = mat_str(_ssn_digits(index))
    return layout_like(compact, src, lambda v: f"{v[:3]}-{v[3:5]}-{v[5:]}", _limit(m))


register(
    Technique(
        "ssn",
        "US Social Security number",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Valid area (001-899, not 666), group and serial; keeps separators. "
        + _PERMUTED.format(what="SSNs"),
    ),
    Impl(render=_ssn_render, space=lambda p, c: SSN_SIZE, check=min_length(9, "SSN")),
)


# -- SIN ---------------------------------------------------------------------------------
_SIN_FIRST = np.frombuffer(b"12345679", dtype=np.uint8)  # 0 and 8 are not issued to people
SIN_SIZE = 8 * 10**7


def _luhn_ok(mat: np.ndarray) -> np.ndarray:
    digits = mat.astype(np.int64) - 48
    return luhn_check_digit(digits[:, :-1]) == digits[:, -1]


def _sin_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    mat, ok = digit_rows(to_arrow(compact_digits(src)), 9)
    first = np.searchsorted(_SIN_FIRST, mat[:, 0])
    ok &= (first < 8) & (_SIN_FIRST[np.minimum(first, 7)] == mat[:, 0]) & _luhn_ok(mat)
    index = first.astype(np.uint64) * np.uint64(10**7) + digits_value(mat[:, 1:8])
    index = renumber(m, attempt, ok, index, SIN_SIZE, "sin", below(keys, SIN_SIZE, 11))
    body = np.empty((len(keys), 8), dtype=np.uint8)
    body[:, 0] = _SIN_FIRST[(index // np.uint64(10**7)).astype(np.int64)] - 48
    body[:, 1:] = value_digits(index % np.uint64(10**7), 7) - 48
    full = np.concatenate([body, luhn_check_digit(body)[:, None].astype(np.uint8)], axis=1)
    compact = mat_str(full + ord("0"))
    return layout_like(compact, src, lambda v: f"{v[:3]} {v[3:6]} {v[6:]}", _limit(m))


register(
    Technique(
        "sin",
        "Canadian Social Insurance Number",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Luhn-valid 9-digit SIN (first digit 1-7 or 9); keeps separators. "
        + _PERMUTED.format(what="SINs"),
    ),
    Impl(render=_sin_render, space=lambda p, c: SIN_SIZE, check=min_length(9, "SIN")),
)


# -- payment cards ------------------------------------------------------------------------
def _card_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    d = src_series(src).str.replace_all(r"\D", "")
    lengths = d.str.len_chars().to_numpy().astype(np.int64)
    ok = (lengths >= 12) & (lengths <= 19)
    out = np.empty(len(keys), dtype=object)
    for length in np.unique(np.where(ok, lengths, 0)):
        rows = np.flatnonzero(np.where(ok, lengths, 0) == length)
        if length == 0:  # not a card number: Visa-like, 16 digits, drawn from the key
            body = np.concatenate(
                [np.full((len(rows), 1), 4, np.uint8), chars(keys[rows], DIGITS, 14, 22) - 48],
                axis=1,
            )
        else:
            mat, _ = digit_rows(to_arrow(d.gather(rows)), int(length))
            size = 10 ** (int(length) - 7)
            middle = renumber(
                m,
                attempt,
                np.ones(len(rows), dtype=bool),
                digits_value(mat[:, 6:-1]),
                size,
                f"credit_card/{length}",
                below(keys[rows], size, 22),
                rows,
            )
            body = np.concatenate(
                [mat[:, :6] - 48, value_digits(middle, int(length) - 7) - 48], axis=1
            )
        full = np.concatenate([body, luhn_check_digit(body)[:, None].astype(np.uint8)], axis=1)
        out[rows] = mat_str(full + ord("0")).to_numpy()
    compact = pl.Series(out.astype(str)) if len(keys) else pl.Series([], dtype=pl.String)
    return layout_like(
        compact, src, lambda v: " ".join(v[i : i + 4] for i in range(0, len(v), 4)), _limit(m)
    )


register(
    Technique(
        "credit_card",
        "Payment card number",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Luhn-valid; keeps the input's length and 6-digit IIN (brand) prefix. The "
        "account digits between the prefix and the check digit go through a keyed permutation "
        "without fixed points, so different cards never share an output.",
    ),
    Impl(render=_card_render, space=lambda p, c: 10**9, check=min_length(12, "card numbers")),
)


# -- IBAN --------------------------------------------------------------------------------
# country -> (leading letters, then digits) in the BBAN; digits are valid where alphanumerics
# are allowed, so this shape is accepted by each country's format
IBAN_SHAPES = {
    "DE": (0, 18),
    "GB": (4, 14),
    "FR": (0, 23),
    "NL": (4, 10),
    "ES": (0, 20),
    "IT": (1, 22),
    "BE": (0, 12),
    "CH": (0, 17),
    "AT": (0, 16),
    "IE": (4, 14),
    "PL": (0, 24),
    "PT": (0, 21),
    "LU": (0, 16),
    "DK": (0, 14),
    "SE": (0, 20),
}
_IBAN_DEFAULT = {"en_GB": "GB", "de_DE": "DE", "fr_CA": "FR"}
IBAN_PERMUTED_DIGITS = 10  # the account number's last ten digits are renumbered


def iban_mod97(country: str, bban: np.ndarray) -> np.ndarray:
    """Check digits for BBAN byte rows: 98 - (BBAN + country + '00' as a number) mod 97."""
    r = np.zeros(len(bban), dtype=np.int64)
    tail = np.frombuffer((country + "00").encode(), dtype=np.uint8)
    full = np.concatenate([bban, np.broadcast_to(tail, (len(bban), 4))], axis=1)
    for j in range(full.shape[1]):
        c = full[:, j].astype(np.int64)
        is_digit = c < 65
        v = np.where(is_digit, c - 48, c - 55)
        r = np.where(is_digit, (r * 10 + v) % 97, (r * 100 + v) % 97)
    return 98 - r


def _iban_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    compact_in = compact_digits(src)
    cc = compact_in.str.slice(0, 2).to_numpy()
    default = _IBAN_DEFAULT.get(m.ctx.locale, "DE")
    known = np.array([c in IBAN_SHAPES for c in cc.tolist()], dtype=bool)
    cc = np.where(known, cc, default).astype(str)
    out = np.empty(len(keys), dtype=object)
    for country in np.unique(cc):
        rows = np.flatnonzero(cc == country)
        letters, ndig = IBAN_SHAPES[country]
        mat, ok = digit_rows(to_arrow(compact_in.gather(rows)), 4 + letters + ndig)
        bban = mat[:, 4:]
        ok &= known[rows] & (mat[:, 0] == ord(country[0])) & (mat[:, 1] == ord(country[1]))
        ok &= ((bban[:, :letters] >= 65) & (bban[:, :letters] <= 90)).all(axis=1)
        ok &= ((bban[:, letters:] >= 48) & (bban[:, letters:] <= 57)).all(axis=1)
        drawn = np.concatenate(
            [chars(keys[rows], UPPER, letters, 31), chars(keys[rows], DIGITS, ndig, 32)], axis=1
        )
        bban = np.where(ok[:, None], bban, drawn)
        k = min(IBAN_PERMUTED_DIGITS, ndig)
        tail = digits_value(bban[:, -k:])
        tail = renumber(m, attempt, ok, tail, 10**k, f"iban/{country}", tail, rows)
        bban[:, -k:] = value_digits(tail, k)
        check = iban_mod97(country, bban)
        check_text = value_digits(check.astype(np.uint64), 2)
        head = np.broadcast_to(np.frombuffer(country.encode(), dtype=np.uint8), (len(rows), 2))
        out[rows] = mat_str(np.concatenate([head, check_text, bban], axis=1)).to_numpy()
    compact = pl.Series(out.astype(str)) if len(keys) else pl.Series([], dtype=pl.String)
    return layout_like(
        compact, src, lambda v: " ".join(v[i : i + 4] for i in range(0, len(v), 4)), _limit(m)
    )


register(
    Technique(
        "iban",
        "IBAN",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Valid mod-97 IBAN for the input's country (locale default otherwise). A "
        "valid IBAN keeps its country and bank code, and the account number's last ten digits "
        "go through a keyed permutation without fixed points, so different IBANs never share "
        "an output; other inputs get one drawn from their key.",
    ),
    Impl(render=_iban_render, space=lambda p, c: 10**10, check=min_length(22, "IBAN")),
)


# -- passport ----------------------------------------------------------------------------
PASSPORT_MIN_DIGITS = 5  # fewer digits leave too few numbers to hide one among


def _passport_drawn(keys: np.ndarray, loc: str) -> np.ndarray:
    if loc in ("en_CA", "fr_CA"):
        return np.concatenate([chars(keys, UPPER, 2, 41), chars(keys, DIGITS, 6, 42)], axis=1)
    if loc == "en_GB":
        return chars(keys, DIGITS, 9, 43)
    if loc == "de_DE":
        return np.concatenate(
            [chars(keys, "CFGHJK", 1, 44), chars(keys, "CFGHJKLMNPRTVWXYZ0123456789", 8, 45)],
            axis=1,
        )
    return np.concatenate([chars(keys, UPPER, 1, 46), chars(keys, DIGITS, 8, 47)], axis=1)


def _passport_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    compact = compact_digits(src)
    out = to_arrow(mat_str(_passport_drawn(keys, m.ctx.locale)))
    if attempt.any() or not len(keys):
        return out
    result = np.array(out.to_pylist(), dtype=object)
    lengths = compact.str.len_chars().to_numpy().astype(np.int64)
    ndigits = compact.str.count_matches(r"\d").to_numpy().astype(np.int64)
    eligible = (ndigits >= PASSPORT_MIN_DIGITS) & (lengths <= 20)
    shape = np.where(eligible, lengths * 100 + ndigits, -1)
    for code in np.unique(shape[shape >= 0]):
        rows = np.flatnonzero(shape == code)
        length, count = int(code // 100), int(code % 100)
        mat, _ = digit_rows(to_arrow(compact.gather(rows)), length)
        is_digit = (mat >= 48) & (mat <= 57)
        digits = mat[is_digit].reshape(len(rows), count)  # row by row, in order
        k = min(count, 18)
        tail = digits_value(digits[:, -k:])
        fallback = below(keys[rows], 10**k, 48)
        every = np.ones(len(rows), dtype=bool)
        tail = renumber(m, attempt, every, tail, 10**k, f"passport/{k}", fallback, rows)
        digits[:, -k:] = value_digits(tail, k)
        mat[is_digit] = digits.reshape(-1)
        result[rows] = mat_str(mat).to_numpy()
    return pa.array(result.tolist(), pa.string())


register(
    Technique(
        "passport",
        "Passport number",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Keeps the input's letters and layout of letters and digits; its digits "
        f"(at least {PASSPORT_MIN_DIGITS}) go through a keyed permutation without fixed "
        "points, so different passport numbers never share an output. Other inputs get a "
        "locale-shaped number drawn from their key (CA AB123456, US A12345678, GB 9 digits, "
        "DE C01X00T47).",
    ),
    Impl(
        render=_passport_render, space=lambda p, c: 26 * 26 * 10**6, check=min_length(9, "passport")
    ),
)
