"""Uniqueness by construction: a million distinct inputs, in batches, give a million outputs.

The maskers keep no state between values: permutation techniques cannot map two valid
identifiers alike, and key-carrying techniques spell out a 64-bit key in every output."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import MaskContext, all_techniques, make_masker
from masking.techniques.keyed import luhn_check_digit

N = 1_000_000
BATCH = 250_000
# technique -> a million distinct inputs of the kind the technique is for (the permutation
# techniques are unique by construction on valid identifiers; other inputs may collide)
KEY_CARRYING = ["email", "username", "url", "hash"]


def _luhn_complete(bodies: np.ndarray) -> list[str]:
    check = luhn_check_digit(bodies)
    return ["".join(map(str, b)) + str(c) for b, c in zip(bodies.tolist(), check, strict=True)]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    return np.stack([(values // 10 ** (width - 1 - i)) % 10 for i in range(width)], axis=1)


def _valid_inputs(name: str) -> pa.Array:
    i = np.arange(N, dtype=np.int64)
    if name == "ssn":
        area, group, serial = 1 + i // (99 * 9999), 1 + i // 9999 % 99, 1 + i % 9999
        return pa.array(
            [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(area, group, serial, strict=True)]
        )
    if name == "sin":
        body = np.concatenate([np.full((N, 1), 1), _digits(i * 37 % 10**7, 7)], axis=1)
        return pa.array(_luhn_complete(body))
    if name == "credit_card":
        body = np.concatenate([_digits(np.full(N, 411111), 6), _digits(i * 7, 9)], axis=1)
        return pa.array(_luhn_complete(body))
    if name == "phone":
        return pa.array([f"(416) {200 + k // 10_000}-{k % 10_000:04d}" for k in i.tolist()])
    if name == "iban":
        return pa.array([f"DE00{k:018d}" for k in i.tolist()])  # check digits are ignored
    if name == "passport":
        return pa.array([f"A{k * 13:08d}" for k in i.tolist()])
    return pl.Series([f"4{k:015d}" for k in range(N)]).to_arrow()


def _distinct(name: str, category: TypeCategory, inputs: pa.Array, **column: object) -> int:
    ctx = MaskContext(
        secret=b"unique-secret",
        locale="en_CA",
        column=ColumnSpec(category, unique=True, name="c", **column),
    )
    masker = make_masker(name, None, ctx)
    out = [masker(inputs.slice(i, BATCH)) for i in range(0, len(inputs), BATCH)]
    masked = pa.concat_arrays(out)
    assert masked.null_count == 0 and len(masked) == len(inputs)
    return pl.from_arrow(masked).n_unique()


def test_every_unique_capable_string_technique_is_covered() -> None:
    capable = {
        t.name for t in all_techniques() if t.unique_capable and TypeCategory.STRING in t.categories
    }
    assert capable - {"keep", "shuffle", "tokenize"} == set(KEY_CARRYING + PERMUTED)


PERMUTED = ["ssn", "sin", "credit_card", "phone", "iban", "passport"]


@pytest.mark.parametrize("name", KEY_CARRYING + PERMUTED)
def test_unique_over_one_million_distinct_inputs(name: str) -> None:
    assert _distinct(name, TypeCategory.STRING, _valid_inputs(name)) == N


@pytest.mark.parametrize("name", PERMUTED)
def test_unique_in_random_mode(name: str) -> None:
    """Random mode numbers rows by position through a seeded permutation: no duplicates."""
    inputs = _valid_inputs(name).slice(0, 200_000)
    ctx = MaskContext(
        secret=b"unique-secret",
        seed=11,
        deterministic=False,
        locale="en_CA",
        column=ColumnSpec(TypeCategory.STRING, unique=True, name="c"),
    )
    masker = make_masker(name, None, ctx)
    out = pa.concat_arrays([masker(inputs.slice(k, 50_000)) for k in range(0, 200_000, 50_000)])
    assert pl.from_arrow(out).n_unique() == 200_000


def test_unique_over_one_million_distinct_inputs_tokenize() -> None:
    # one letter + five digits: both runs go through the keyed small-domain permutations, so a
    # million values finish in seconds; the FF3-1 path is covered by the next test
    inputs = pa.array([f"{chr(65 + i // 100_000)}{i % 100_000:05d}" for i in range(N)])
    assert _distinct("tokenize", TypeCategory.STRING, inputs) == N


def test_unique_distinct_inputs_tokenize_ff3() -> None:
    # FF3-1 runs at about 10k values/s in pure Python, so this path uses 60,000 inputs
    inputs = pa.array([f"{i * 7919:09d}" for i in range(60_000)])
    assert _distinct("tokenize", TypeCategory.STRING, inputs) == 60_000


@pytest.mark.parametrize("name", ["hash_number", "sequence"])
def test_unique_over_one_million_distinct_inputs_numeric(name: str) -> None:
    inputs = pa.array(range(1, N + 1), pa.int64())
    assert _distinct(name, TypeCategory.NUMERIC, inputs) == N


def test_unique_over_one_million_distinct_inputs_uuid() -> None:
    inputs = pl.Series([f"{i:032x}" for i in range(N)]).to_arrow()
    assert _distinct("random_uuid", TypeCategory.UUID, inputs) == N


def test_unique_hash_number_in_tight_precision() -> None:
    # 7 digits hold 9,999,999 outputs; inputs 1..10**6 all lie in them, so the permutation
    # keeps them apart (an input outside, such as 0, would be drawn from its key instead)
    inputs = pa.array(range(1, N + 1), pa.int64())
    assert _distinct("hash_number", TypeCategory.NUMERIC, inputs, precision=7) == N
