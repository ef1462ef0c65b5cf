"""Techniques that apply to many categories: null_out, keep, fixed; booleans and UUIDs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques.keyed import mix64
from masking.techniques.registry import (
    BIN,
    OTH,
    B,
    Impl,
    Param,
    Technique,
    U,
    key_collisions,
    register,
)

ALL = frozenset(TypeCategory)


def _null_apply(values: pa.Array, m, offset: int) -> pa.Array:
    return pa.nulls(len(values), values.type)


def _null_check(params: dict, column: ColumnSpec) -> list[str]:
    return []  # the generic NOT NULL check in fits_column covers this technique


register(
    Technique(
        "null_out",
        "Set to NULL",
        ALL,
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        nulls_output=True,
        description="Writes NULL; needs a nullable column.",
    ),
    Impl(apply=_null_apply, check=_null_check),
)
register(
    Technique(
        "keep",
        "Keep as is",
        ALL,
        (),
        identity_hiding=False,
        deterministic=True,
        unique_capable=True,
        description="Copies the value unchanged.",
    ),
    Impl(apply=lambda values, m, offset: values),
)


def _fixed_apply(values: pa.Array, m, offset: int) -> pa.Array:
    raw = m.params["value"]
    typ = values.type
    value: object = (
        raw.encode() if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) else raw
    )
    if pa.types.is_fixed_size_binary(typ):
        value = raw.encode().ljust(typ.byte_width, b"\0")[: typ.byte_width]
    try:
        scalar = pa.scalar(value, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        scalar = pa.scalar(value).cast(typ)
    return pc.if_else(values.is_valid(), scalar, pa.scalar(None, typ))


register(
    Technique(
        "fixed",
        "Fixed value",
        frozenset({BIN, OTH}),
        (Param("value", "str", "", help="Written into every non-NULL row (bytes for binary)"),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(apply=_fixed_apply),
)


def _random_boolean(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    return pa.array((keys & np.uint64(1)).astype(bool), pa.bool_())


register(
    Technique(
        "random_boolean",
        "Random boolean",
        frozenset({B}),
        (),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(render=_random_boolean),
)


def _fixed_boolean(values: pa.Array, m, offset: int) -> pa.Array:
    return pc.if_else(values.is_valid(), pa.scalar(m.params["value"]), pa.scalar(None, pa.bool_()))


register(
    Technique(
        "fixed_boolean",
        "Fixed boolean",
        frozenset({B}),
        (Param("value", "bool", False),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(apply=_fixed_boolean),
)


def uuid_bytes(keys: np.ndarray) -> np.ndarray:
    """(n, 16) RFC 4122 version-4-shaped bytes that hold the whole 64-bit key (bytes 0-5, 7
    and 9, which the version and variant bits leave alone), so different keys never share a
    UUID; the other bits come from the key too."""
    kb = keys.astype(">u8").view(np.uint8).reshape(-1, 8)
    fill = mix64(keys, 0xB2).astype(">u8").view(np.uint8).reshape(-1, 8)
    raw = np.empty((len(keys), 16), dtype=np.uint8)
    raw[:, 0:6] = kb[:, 0:6]
    raw[:, 6] = 0x40 | (fill[:, 0] & 0x0F)
    raw[:, 7] = kb[:, 6]
    raw[:, 8] = 0x80 | (fill[:, 1] & 0x3F)
    raw[:, 9] = kb[:, 7]
    raw[:, 10:16] = fill[:, 2:8]
    return raw


def _random_uuid(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    raw = uuid_bytes(keys)
    if pa.types.is_fixed_size_binary(src.type) or pa.types.is_binary(src.type):
        arr = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), len(keys), [None, pa.py_buffer(raw.tobytes())]
        )
        return arr if pa.types.is_fixed_size_binary(src.type) else arr.cast(src.type)
    big = raw.tobytes().hex()
    h = [big[i : i + 32] for i in range(0, len(big), 32)]
    out = pa.array([f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}" for x in h], pa.string())
    # each value keeps its own letter case (SQL Server returns upper-case GUIDs)
    text = src.cast(pa.string())
    upper = pc.and_(
        pc.match_substring_regex(text, "[A-F]"), pc.invert(pc.match_substring_regex(text, "[a-f]"))
    )
    return pc.if_else(upper.fill_null(False), pc.utf8_upper(out), out).cast(src.type)


register(
    Technique(
        "random_uuid",
        "UUID",
        frozenset({U}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Version-4-shaped UUID holding the value's 64-bit key; keeps the "
        "input's type (text or 16 bytes). " + key_collisions(),
    ),
    Impl(render=_random_uuid, space=lambda p, c: 2**64),
)
