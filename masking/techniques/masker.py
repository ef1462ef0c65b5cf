"""ColumnMasker: runs one technique over successive batches of one column.

Rendered techniques map a 64-bit key per value to an output. The masker owns what is common
to all of them: keys (keyed hash in deterministic mode, seeded stream otherwise), NULL
pass-through, re-drawing outputs that equal their input, and run-wide uniqueness.

Uniqueness: every accepted output's 64-bit hash is remembered with the key of the input that
owns it. A candidate whose hash is already owned by another input is re-drawn with an attempt
counter (a deterministic function of the input, so the same input keeps its output for the
rest of the run). Distinct outputs that merely share a hash only cause a harmless re-draw.
Inputs are told apart by their 64-bit key, so two different inputs sharing a key (chance about
n**2 / 2**65) would share an output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.errors import TerminalError, UniquenessError
from masking.techniques.hashset import SortedHashes
from masking.techniques.keyed import row_keys, stream_keys, value_hash, with_attempt
from masking.techniques.registry import (
    Impl,
    MaskContext,
    Technique,
    get_impl,
    get_technique,
    validate_params,
)

MAX_ATTEMPTS = 64
_OUT_SEED = 0x6D61736B


class _SeenOutputs(SortedHashes):
    """Run-wide map of output hash -> owner key (see ``SortedHashes``)."""

    def __init__(self) -> None:
        super().__init__(payload=True)


def _equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    if a.type != b.type:
        try:
            b = b.cast(a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.zeros(len(a), dtype=bool)
    eq = pc.equal(a, b)
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
        self.unique = bool(ctx.column.unique)
        self.state: Any = impl.prepare(params, ctx) if impl.prepare else None
        self._seen = _SeenOutputs()
        self._attempts = SortedHashes(payload=True)  # owner key -> attempt, when > 0
        if self.unique and not technique.unique_capable:
            raise UniquenessError(
                ctx.column.name, technique.name, "the technique cannot guarantee unique values"
            )
        self.space = impl.space(params, ctx.column) if impl.space else None

    # -- keys -----------------------------------------------------------------------------
    def keys_for(self, src: pa.Array, offset: int) -> np.ndarray:
        if self.ctx.deterministic and self.technique.deterministic:
            return row_keys(src, self.ctx.secret, self.label)
        return stream_keys(len(src), offset, self.ctx.seed, self.label)

    # -- batch ----------------------------------------------------------------------------
    def __call__(self, values: pa.Array) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        n = len(values)
        offset = self.rows_seen
        self.rows_seen += n
        if self.impl.apply is not None:
            return self.impl.apply(values, self, offset)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(valid)
        src = values.filter(pa.array(valid)) if len(idx) < n else values
        keys = self.keys_for(src, offset)
        out = self._unique(src, keys) if self.unique else self._plain(src, keys)
        if len(idx) == n:
            return out
        take = np.zeros(n, dtype=np.int64)
        take[idx] = np.arange(len(idx))
        return out.take(pa.array(take, mask=~valid))

    def render(self, keys: np.ndarray, src: pa.Array, attempt: np.ndarray) -> pa.Array:
        out = self.impl.render(with_attempt(keys, attempt), src, attempt, self)
        limit = self.ctx.column.max_length
        if (
            limit is not None
            and len(out)
            and (pa.types.is_string(out.type) or pa.types.is_large_string(out.type))
        ):
            longest = pc.max(pc.utf8_length(out)).as_py()
            if longest is not None and longest > limit:
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

    def _unique(self, src: pa.Array, keys: np.ndarray) -> pa.Array:
        owners, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if len(owners) == len(keys):
            # all distinct: keep row order, nothing to gather or scatter
            owners, dsrc, inverse = keys, src, None
        else:
            dsrc = src.take(pa.array(first))
            inverse = inverse.reshape(-1)
        if self.space is not None and self._seen.count + len(owners) > self.space:
            found, _ = self._seen.lookup(owners)  # cheap upper bound check only
            if self._seen.count + len(owners) - int(found.sum()) > self.space:
                raise UniquenessError(
                    self.ctx.column.name,
                    self.technique.name,
                    f"more distinct values than the {self.space} outputs that fit the column",
                )
        attempt = np.zeros(len(owners), dtype=np.int64)
        if self._attempts.count:
            known, prior = self._attempts.lookup(owners)
            attempt[known] = prior[known].astype(np.int64)
        pending = np.arange(len(owners))
        chosen = np.zeros(len(owners), dtype=np.int64)
        pieces: list[pa.Array] = []
        base = 0
        for _ in range(MAX_ATTEMPTS + 1):
            if not len(pending):
                break
            whole = len(pending) == len(owners)
            p_src = dsrc if whole else dsrc.take(pa.array(pending))
            p_owners = owners if whole else owners[pending]
            cand = self.render(p_owners, p_src, attempt[pending])
            h = value_hash(cand, _OUT_SEED)
            found, owner = self._seen.lookup(h)
            clash = found & (owner != p_owners)
            if self.technique.identity_hiding:
                clash |= _equal(p_src, cand)
            # among candidates not yet in the run, only one holder of a hash may keep it: the
            # one with the smallest owner key
            order = np.argsort(h)
            sh = h[order]
            same = sh[1:] == sh[:-1]
            if same.any():
                order = np.lexsort((p_owners, h))
                sh = h[order]
                same = sh[1:] == sh[:-1]
                later = np.zeros(len(h), dtype=bool)
                later[order[1:]] = same
                clash |= later & ~found
            ok = ~clash
            new = ok & ~found
            self._seen.insert(h[new], p_owners[new])
            pieces.append(cand)
            chosen[pending[ok]] = base + np.flatnonzero(ok)
            base += len(cand)
            redrawn = pending[ok & (attempt[pending] > 0)]
            if len(redrawn):
                self._remember_attempts(owners[redrawn], attempt[redrawn])
            pending = pending[clash]
            attempt[pending] += 1
        if len(pending):
            raise UniquenessError(
                self.ctx.column.name,
                self.technique.name,
                f"value space exhausted after {MAX_ATTEMPTS} re-draws",
            )
        if not pieces:
            return self.render(keys[:0], src.slice(0, 0), np.zeros(0, dtype=np.int64))
        typ = pieces[0].type
        result = pieces[0] if len(pieces) == 1 else pa.concat_arrays([p.cast(typ) for p in pieces])
        idx = chosen if inverse is None else chosen[inverse]
        return result if _is_identity(idx, len(result)) else result.take(pa.array(idx))

    def _remember_attempts(self, owners: np.ndarray, attempt: np.ndarray) -> None:
        """Record the attempt that produced an owner's output, once per owner."""
        known, _ = self._attempts.lookup(owners)
        if not known.all():
            fresh = ~known
            self._attempts.insert(owners[fresh], attempt[fresh].astype(np.uint64))


def _is_identity(idx: np.ndarray, size: int | None = None) -> bool:
    """True when ``idx`` is 0, 1, ..., n-1 (and n == size when given)."""
    n = len(idx)
    if size is not None and n != size:
        return False
    return bool(n == 0 or (idx[0] == 0 and idx[-1] == n - 1 and (np.diff(idx) == 1).all()))


def make_masker(name: str, params: dict | None, ctx: MaskContext) -> ColumnMasker:
    technique = get_technique(name)
    clean = validate_params(name, params)
    return ColumnMasker(technique, get_impl(name), clean, ctx)


def unmask(value: str, params: dict | None, ctx: MaskContext) -> str:
    """Reverse a ``tokenize`` output (callers must restrict and audit this)."""
    impl = get_impl("tokenize")
    return impl.unmask(value, validate_params("tokenize", params), ctx)
