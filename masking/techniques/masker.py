"""ColumnMasker: runs one technique over successive batches of one column.

Rendered techniques map a 64-bit key per value to an output. The masker owns what is common
to all of them: keys (SipHash of the canonical value in deterministic mode, a seeded stream
otherwise), NULL pass-through, and a second try for the rare output equal to its input.

Consistency is the rule: in deterministic mode an output is a function of the workflow key,
the technique, its parameters (with the length the column group allows) and the input value,
and of nothing else. The masker never looks at other rows. A unique column gets the same
function as any other; the techniques that accept unique columns are injective on their
inputs (a keyed permutation) or carry a full 64-bit key in every output, and what is left of
a collision is caught by the run's uniqueness check, which fails the run without a value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.errors import TerminalError, UniquenessError
from masking.techniques.keyed import row_keys, stream_keys, with_attempt
from masking.techniques.registry import (
    Impl,
    MaskContext,
    Technique,
    get_impl,
    get_technique,
    validate_params,
)

MAX_ATTEMPTS = 64


def _plain_layout(values: pa.Array) -> pa.Array:
    """One chunk, and views as offset arrays (few compute kernels take views yet); the
    canonical form, and so the output, is the same either way."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_string_view(values.type):
        return values.cast(pa.large_string())
    if pa.types.is_binary_view(values.type):
        return values.cast(pa.large_binary())
    return values


def _equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    if a.type != b.type:
        try:
            b = b.cast(a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.zeros(len(a), dtype=bool)
    eq = pc.equal(a, b)
    if not pc.any(eq).as_py():  # the common case: no output equals its input
        return np.zeros(len(a), dtype=bool)
    return eq.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


class ColumnMasker:
    """One per (run, table, column). Not thread-safe; one batch at a time."""

    def __init__(self, technique: Technique, impl: Impl, params: dict, ctx: MaskContext):
        self.technique = technique
        self.impl = impl
        self.params = params
        self.ctx = ctx
        self.label = f"{technique.name}"
        self.rows_seen = 0
        self.valid_seen = 0  # non-NULL values masked so far: positions for random mode
        self.first_position = 0
        self.state: object = impl.prepare(params, ctx) if impl.prepare else None
        if ctx.column.unique and not technique.unique_capable:
            raise UniquenessError(
                ctx.column.name, technique.name, "the technique cannot guarantee unique values"
            )

    @property
    def keyed(self) -> bool:
        """True when outputs are a function of the value (deterministic mode)."""
        return self.ctx.deterministic and self.technique.deterministic

    # -- keys -----------------------------------------------------------------------------
    def keys_for(self, src: pa.Array, offset: int, label: str | None = None) -> np.ndarray:
        if self.keyed:
            category = self.ctx.column.extra.get("source_category") or self.ctx.column.category
            return row_keys(src, self.ctx.secret, label or self.label, category)
        return stream_keys(len(src), offset, self.ctx.seed, label or self.label)

    # -- batch ----------------------------------------------------------------------------
    def __call__(self, values: pa.Array, entity: pa.Array | None = None) -> pa.Array:
        """Mask one batch; ``entity`` holds the batch's entity-key column for techniques
        keyed on another column of the row (date shifts per person)."""
        values = _plain_layout(values)
        n = len(values)
        offset = self.rows_seen
        self.rows_seen += n
        if self.impl.apply is not None:
            return self.impl.apply(values, self, offset)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(valid)
        whole = len(idx) == n
        src = values if whole else values.filter(pa.array(valid))
        self.first_position = self.valid_seen
        self.valid_seen += len(src)
        keys = self._keys(src, offset, None if entity is None else entity, valid, whole)
        out = self._plain(src, keys)
        if whole:
            return out
        take = np.zeros(n, dtype=np.int64)
        take[idx] = np.arange(len(idx))
        return out.take(pa.array(take, mask=~valid))

    def _keys(
        self,
        src: pa.Array,
        offset: int,
        entity: pa.Array | None,
        valid: np.ndarray,
        whole: bool,
    ) -> np.ndarray:
        if entity is None or not self.keyed:
            return self.keys_for(src, offset)
        if isinstance(entity, pa.ChunkedArray):
            entity = entity.combine_chunks()
        if not whole:
            entity = entity.filter(pa.array(valid))
        # one key per entity (the same in every table), the value's own key where it is NULL
        by_entity = row_keys(entity, self.ctx.secret, self.impl.entity_label or self.label)
        if entity.null_count:
            missing = ~entity.is_valid().to_numpy(zero_copy_only=False)
            by_entity[missing] = self.keys_for(src, offset)[missing]
        return by_entity

    def render(self, keys: np.ndarray, src: pa.Array, attempt: np.ndarray) -> pa.Array:
        render = self.impl.render
        assert render is not None  # techniques without render go through `apply`, not here
        out = render(with_attempt(keys, attempt), src, attempt, self)
        limit = self.ctx.column.max_length
        if (
            limit is not None
            and len(out)
            and (pa.types.is_string(out.type) or pa.types.is_large_string(out.type))
        ):
            # a value has no more characters than bytes: count them only when some value
            # has more bytes than the limit (byte lengths come from the offsets alone)
            if (pc.max(pc.binary_length(out)).as_py() or 0) > limit and (
                pc.max(pc.utf8_length(out)).as_py() or 0
            ) > limit:
                # cutting would break the format (an e-mail without its domain): refuse instead
                raise TerminalError(
                    f"column '{self.ctx.column.name}': technique '{self.technique.name}' cannot "
                    f"produce values within {limit} characters"
                )
        return out

    def _plain(self, src: pa.Array, keys: np.ndarray) -> pa.Array:
        attempt = np.zeros(len(src), dtype=np.int64)
        out = self.render(keys, src, attempt)
        if not self.technique.identity_hiding or not len(src):
            return out
        # an output equal to its input is drawn again from the value's own key: still a
        # function of the value alone, so every copy of it gets the same second output
        same = _equal(src, out)
        rounds = 0
        while same.any():
            rounds += 1
            if rounds > MAX_ATTEMPTS:
                raise UniquenessError(
                    self.ctx.column.name,
                    self.technique.name,
                    "no output differing from the input could be found",
                )
            pos = np.flatnonzero(same)
            attempt[pos] += 1
            sub_src = src.take(pa.array(pos))
            redo = self.render(keys[pos], sub_src, attempt[pos])
            same_sub = _equal(sub_src, redo)
            merged = np.arange(len(src))
            out = pa.concat_arrays([out, redo.cast(out.type)])
            merged[pos] = len(src) + np.arange(len(pos))
            out = out.take(pa.array(merged))
            same = np.zeros(len(src), dtype=bool)
            same[pos] = same_sub
        return out


def make_masker(name: str, params: dict | None, ctx: MaskContext) -> ColumnMasker:
    technique = get_technique(name)
    clean = validate_params(name, params)
    return ColumnMasker(technique, get_impl(name), clean, ctx)


def unmask(value: str, params: dict | None, ctx: MaskContext) -> str:
    """Reverse a ``tokenize`` output (callers must restrict and audit this)."""
    reverse = get_impl("tokenize").unmask
    if reverse is None:
        raise TerminalError("the tokenize technique cannot be reversed")
    return reverse(value, validate_params("tokenize", params), ctx)
