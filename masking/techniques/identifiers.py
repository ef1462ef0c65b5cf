"""Government and financial identifiers: SSN, SIN, payment cards, IBAN, passports.

Outputs are built compact (alphanumerics only, with valid check digits) and then laid out
like the input: separators found in the input are re-inserted at the same positions, so
'046 454 286' stays 'ddd ddd ddd' and '4111-1111-1111-1111' keeps its dashes.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from masking.schema import ColumnSpec
from masking.techniques.keyed import below, luhn_check_digit, mix64
from masking.techniques.registry import Impl, S, Technique, register
from masking.techniques.strings import concat, fixed_width, num, src_series, to_arrow

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    return pl.from_arrow(fixed_width(mat))


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


def _min_len(n: int, what: str):
    def check(params: dict, column: ColumnSpec) -> list[str]:
        if column.max_length is not None and column.max_length < n:
            return [f"{what} needs at least {n} characters, column allows {column.max_length}"]
        return []

    return check


# -- SSN ---------------------------------------------------------------------------------
def _ssn_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    area = 1 + below(keys, 898, 1)
    area = np.where(area >= 666, area + 1, area)  # 666 is never issued; 900+ are ITINs
    compact = concat(num(area, 3), num(1 + below(keys, 99, 2), 2), num(1 + below(keys, 9999, 3), 4))
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
        description="Valid area (001-899, not 666), group and serial; keeps separators.",
    ),
    Impl(render=_ssn_render, space=lambda p, c: 897 * 99 * 9999, check=_min_len(9, "SSN")),
)


# -- SIN ---------------------------------------------------------------------------------
def _sin_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    body = chars(keys, DIGITS, 8, 11) - ord("0")
    # first digit 0 and 8 are not issued to individuals
    body[:, 0] = np.frombuffer(b"12345679", dtype=np.uint8)[below(keys, 8, 12)] - ord("0")
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
        description="Luhn-valid 9-digit SIN (first digit 1-7 or 9); keeps separators.",
    ),
    Impl(render=_sin_render, space=lambda p, c: 8 * 10**7, check=_min_len(9, "SIN")),
)


# -- payment cards ------------------------------------------------------------------------
def _card_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    d = src_series(src).str.replace_all(r"\D", "")
    lengths = d.str.len_chars().to_numpy().astype(np.int64)
    lengths = np.where((lengths >= 12) & (lengths <= 19), lengths, 16)
    prefix = d.str.slice(0, 6)
    ok_prefix = (prefix.str.len_chars() == 6).to_numpy() & (lengths == d.str.len_chars().to_numpy())
    default_prefix = mat_str(
        np.concatenate(
            [np.full((len(keys), 1), ord("4"), np.uint8), chars(keys, DIGITS, 5, 21)], axis=1
        )
    )
    prefix = pl.select(
        pl.when(pl.lit(pl.Series(ok_prefix))).then(pl.lit(prefix)).otherwise(pl.lit(default_prefix))
    ).to_series()
    pmat = (
        np.frombuffer("".join(prefix.to_list()).encode(), dtype=np.uint8).reshape(-1, 6)
        if len(keys)
        else np.zeros((0, 6), np.uint8)
    )
    out = np.empty(len(keys), dtype=object)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        body = np.concatenate(
            [pmat[rows] - ord("0"), chars(keys[rows], DIGITS, int(length) - 7, 22) - ord("0")],
            axis=1,
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
        description="Luhn-valid; keeps the input's length and 6-digit IIN (brand) prefix.",
    ),
    Impl(render=_card_render, space=lambda p, c: 10**9, check=_min_len(12, "card numbers")),
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
    cc = src_series(src).str.slice(0, 2).str.to_uppercase().to_numpy()
    default = _IBAN_DEFAULT.get(m.ctx.locale, "DE")
    cc = np.array([c if c in IBAN_SHAPES else default for c in cc.tolist()], dtype=object)
    out = np.empty(len(keys), dtype=object)
    for country in np.unique(cc.astype(str)):
        rows = np.flatnonzero(cc == country)
        letters, ndig = IBAN_SHAPES[country]
        bban = np.concatenate(
            [chars(keys[rows], UPPER, letters, 31), chars(keys[rows], DIGITS, ndig, 32)], axis=1
        )
        check = iban_mod97(country, bban)
        out[rows] = concat(country, num(check, 2), mat_str(bban)).to_numpy()
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
        description="Valid mod-97 IBAN for the input's country (locale default otherwise).",
    ),
    Impl(render=_iban_render, space=lambda p, c: 10**12, check=_min_len(22, "IBAN")),
)


# -- passport ----------------------------------------------------------------------------
def _passport_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    loc = m.ctx.locale
    if loc in ("en_CA", "fr_CA"):
        mat = np.concatenate([chars(keys, UPPER, 2, 41), chars(keys, DIGITS, 6, 42)], axis=1)
    elif loc == "en_GB":
        mat = chars(keys, DIGITS, 9, 43)
    elif loc == "de_DE":
        mat = np.concatenate(
            [chars(keys, "CFGHJK", 1, 44), chars(keys, "CFGHJKLMNPRTVWXYZ0123456789", 8, 45)],
            axis=1,
        )
    else:
        mat = np.concatenate([chars(keys, UPPER, 1, 46), chars(keys, DIGITS, 8, 47)], axis=1)
    return to_arrow(mat_str(mat))


register(
    Technique(
        "passport",
        "Passport number",
        frozenset({S}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Locale shape: CA AB123456, US A12345678, GB 9 digits, DE C01X00T47.",
    ),
    Impl(
        render=_passport_render, space=lambda p, c: 26 * 26 * 10**6, check=_min_len(9, "passport")
    ),
)
