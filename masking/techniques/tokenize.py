"""Reversible, format-preserving tokenisation (FF3-1 via the ``ff3`` package).

Digits are encrypted as one radix-10 string and ASCII letters as one radix-26 string (case
pattern kept); everything else stays in place, so '4111-1111-1111-1111' stays a 19-character
dash-separated number and 'AB123456' keeps two letters then six digits.

FF3-1 needs a domain of at least a million values (6 digits, 5 letters). Shorter runs use a
keyed permutation of the whole small domain built from BLAKE2b (a single cycle, so it has no
fixed points). Long runs are split into equal chunks within FF3-1's length limit, each with
its own tweak. A bijection cannot promise that *no* value maps to itself, so this technique is
not flagged identity-hiding: with FF3-1 the chance is 1 / domain size per value.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np
import pyarrow as pa
from ff3 import FF3Cipher

from masking.techniques.keyed import derive
from masking.techniques.registry import Impl, MaskContext, S, Technique, register

LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"


def _limits(radix: int) -> tuple[int, int]:
    minlen = math.ceil(math.log(1_000_000) / math.log(radix))
    maxlen = 2 * math.floor(96 / math.log2(radix))
    return minlen, maxlen


@lru_cache(maxsize=64)
def _cipher(secret: bytes, alphabet: str) -> FF3Cipher:
    key = derive(secret, "tokenize/key")[:16].hex()
    tweak = derive(secret, "tokenize/tweak")[:7].hex()
    if alphabet == DIGITS:
        return FF3Cipher(key, tweak, 10)
    return FF3Cipher.withCustomAlphabet(key, tweak, alphabet)


def _tweak(secret: bytes, alphabet: str, length: int, chunk: int) -> str:
    return hashlib.blake2b(
        f"{alphabet}/{length}/{chunk}".encode(), key=derive(secret, "tokenize/tw"), digest_size=7
    ).hexdigest()


@lru_cache(maxsize=64)
def _small_perm(secret: bytes, radix: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank) of a keyed single-cycle permutation of range(radix ** length)."""
    size = radix**length
    key = derive(secret, f"tokenize/small/{radix}/{length}")
    h = [
        hashlib.blake2b(i.to_bytes(4, "little"), key=key, digest_size=8).digest()
        for i in range(size)
    ]
    order = np.argsort(np.frombuffer(b"".join(h), dtype="<u8"), kind="stable")
    rank = np.empty(size, dtype=np.int64)
    rank[order] = np.arange(size)
    return order, rank


def _to_int(s: str, alphabet: str) -> int:
    n = 0
    for ch in s:
        n = n * len(alphabet) + alphabet.index(ch)
    return n


def _from_int(n: int, alphabet: str, length: int) -> str:
    out = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


def _chunks(n: int, maxlen: int) -> list[int]:
    k = -(-n // maxlen)
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _crypt(s: str, alphabet: str, secret: bytes, decrypt: bool) -> str:
    n = len(s)
    if n == 0:
        return s
    radix = len(alphabet)
    minlen, maxlen = _limits(radix)
    if n < minlen:
        if radix**n < 2:
            return s
        order, rank = _small_perm(secret, radix, n)
        pos = rank[_to_int(s, alphabet)]
        step = -1 if decrypt else 1
        return _from_int(int(order[(pos + step) % len(order)]), alphabet, n)
    cipher = _cipher(secret, alphabet)
    out, start = [], 0
    for i, size in enumerate(_chunks(n, maxlen)):
        part = s[start : start + size]
        tweak = _tweak(secret, alphabet, n, i)
        out.append(
            cipher.decrypt_with_tweak(part, tweak)
            if decrypt
            else cipher.encrypt_with_tweak(part, tweak)
        )
        start += size
    return "".join(out)


def transform(value: str, secret: bytes, decrypt: bool = False) -> str:
    digits = "".join(ch for ch in value if ch in DIGITS)
    letters = "".join(ch.lower() for ch in value if ch.isascii() and ch.isalpha())
    d = iter(_crypt(digits, DIGITS, secret, decrypt))
    l_ = iter(_crypt(letters, LOWER, secret, decrypt))
    out = []
    for ch in value:
        if ch in DIGITS:
            out.append(next(d))
        elif ch.isascii() and ch.isalpha():
            c = next(l_)
            out.append(c.upper() if ch.isupper() else c)
        else:
            out.append(ch)
    return "".join(out)


def _apply(values: pa.Array, m, offset: int) -> pa.Array:
    memo: dict[str, str] = {}
    secret = m.ctx.secret
    out: list[str | None] = []
    for v in values.cast(pa.string()).to_pylist():
        if v is None:
            out.append(None)
            continue
        r = memo.get(v)
        if r is None:
            r = memo[v] = transform(v, secret)
        out.append(r)
    return pa.array(out, pa.string())


def _unmask(value: str, params: dict, ctx: MaskContext) -> str:
    return transform(value, ctx.secret, decrypt=True)


register(
    Technique(
        "tokenize",
        "Tokenise (reversible)",
        frozenset({S}),
        (),
        identity_hiding=False,
        deterministic=True,
        unique_capable=True,
        description="Format-preserving encryption (FF3-1) keyed by the workflow secret; "
        "same length and character classes; reversible with unmask.",
    ),
    Impl(apply=_apply, unmask=_unmask),
)
