"""The leak check: after the load, still inside the target transaction, sampled target values
are compared with their source values. Every masked column whose PII type is identity-bearing
counts, whatever its technique: a pattern that matched nothing or a redaction that found
nothing leaves the values as they were, and the check says so."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from masking.dialects.base import Dialect
from masking.extract import ResolvedTable
from masking.schema import TypeCategory
from masking.transform import NAME_TECHNIQUES, ColumnMasker


@dataclass(frozen=True)
class LeakCheck:
    table: str
    column: str
    technique: str
    sampled: int
    equal: int  # sampled identifying source values found unchanged in the target
    ok: bool  # False when more than the plan's share of identifying values stayed unchanged
    identity_hiding: bool = True  # whether the column counts (an identity-bearing PII type)
    method: str = "target"  # "target": re-read by key; "batch": key absent, compared as written
    pii_type: str = ""  # declared (by the technique) or detected type that makes it count
    share: float = 0.0  # equal / identifying values sampled


# How much of a sampled text the leak check's detectors read (they are Python regexes; a
# 100 KB value must not slow the check down).
TEXT_LOOK = 4096
# Detected types that identify a person on their own or nearly (sensitivity 2 and 3).
IDENTITY_SENSITIVITY = 2


def pii_type_of(masker: ColumnMasker, rt: ResolvedTable, sample: list[Any]) -> str:
    """The identity-bearing PII type of a masked column, or "": declared by choosing an
    identity-hiding technique, or detected from the column's name and sampled source values."""
    from masking.detect import detect_column

    if masker.identity_hiding:
        return masker.rule.technique
    col = rt.source.column(masker.rule.source_column)
    if col is None:
        return ""
    short = [v[:TEXT_LOOK] if isinstance(v, str) else v for v in sample]
    found = detect_column(col.name, col.native_type, col.category, short)
    return found.entity if found and found.sensitivity >= IDENTITY_SENSITIVITY else ""


def placeholder(dialect: Dialect) -> str:
    """The DB-API parameter marker of the dialect's driver (qmark or format)."""
    module = sys.modules.get(type(dialect.connect()).__module__.split(".")[0])
    style = getattr(module, "paramstyle", "qmark")
    return "%s" if style in ("format", "pyformat") else "?"


def _norm(v: Any) -> Any:
    """Comparable form across drivers: numbers as float, text stripped of CHAR padding."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float | Decimal):
        return float(v)
    if isinstance(v, str):
        return v.rstrip()
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    if isinstance(v, dt.datetime):
        return (v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v).isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _key(values: Sequence[Any]) -> tuple:
    return tuple(str(_norm(v)) for v in values)


class LeakSampler:
    """Keeps up to `limit` evenly spread rows of a table: target key, and for each masked
    column the source value and the value written. Every masked column whose PII type is
    identity-bearing counts, whatever the technique; free text counts the rows whose source
    text carries personal data (its own, or the row's masked names)."""

    def __init__(
        self,
        rt: ResolvedTable,
        masked: list[ColumnMasker],
        total: int,
        limit: int,
        max_share: float = 0.0,
    ):
        self.rt = rt
        self.masked = masked
        self.limit = limit
        self.max_share = max_share
        self.names = [m.rule.source_column for m in masked if m.rule.technique in NAME_TECHNIQUES]
        # Per sampled row of each masked text column: does the source text carry personal
        # data (its own, or a name of the same row)? Decides for columns with no PII type.
        self.carries: dict[str, list[bool]] = {
            m.rule.target_column: []
            for m in masked
            if m.rule.technique not in NAME_TECHNIQUES
            and (c := rt.source.column(m.rule.source_column)) is not None
            and c.category is TypeCategory.STRING
        }
        self.stride = max(1, -(-max(total, 1) // max(limit, 1)))
        pk = list(rt.target.primary_key)
        self.key_cols = pk if pk and all(k in rt.target_columns for k in pk) else []
        self.keys: list[tuple] = []
        self.source: dict[str, list[Any]] = {m.rule.target_column: [] for m in masked}
        self.written: dict[str, list[Any]] = {m.rule.target_column: [] for m in masked}

    def observe(self, src: pa.RecordBatch, out: pa.RecordBatch, offset: int) -> None:
        if not self.masked or len(self.keys) >= self.limit:
            return
        first = (-offset) % self.stride
        idx = list(range(first, src.num_rows, self.stride))[: self.limit - len(self.keys)]
        if not idx:
            return
        take = pa.array(idx, type=pa.int64())
        if self.key_cols:
            cols = [out.column(k).take(take).to_pylist() for k in self.key_cols]
            self.keys.extend(zip(*cols, strict=True))
        else:
            self.keys.extend((int(offset + i),) for i in idx)
        for m in self.masked:
            name = m.rule.target_column
            self.source[name].extend(src.column(m.rule.source_column).take(take).to_pylist())
            self.written[name].extend(out.column(name).take(take).to_pylist())
        if self.carries:
            from masking.redact import contains_pii
            from masking.techniques.text import mentions_name

            names = [src.column(c).take(take).to_pylist() for c in self.names]
            for m in self.masked:
                if m.rule.target_column not in self.carries:
                    continue
                texts = src.column(m.rule.source_column).take(take).to_pylist()
                self.carries[m.rule.target_column].extend(
                    isinstance(t, str)
                    and (contains_pii(t[:TEXT_LOOK]) or any(mentions_name(t, n[i]) for n in names))
                    for i, t in enumerate(texts)
                )

    def check(self, target: Dialect) -> list[LeakCheck]:
        if not self.masked:
            return []
        actual = self._read_target(target) if self.key_cols else None
        if actual is not None:  # the sampled rows as the target holds them, in sample order
            columns = self._read_columns()
            missing = (None,) * len(columns)
            got = [actual.get(_key(k), missing) for k in self.keys]
        out = []
        for m in self.masked:
            name = m.rule.target_column
            if actual is not None:
                pos = columns.index(name)
                values = [row[pos] for row in got]
            else:
                values = self.written[name]
            src = self.source[name]
            pii = pii_type_of(m, self.rt, [a for a in src if a is not None])
            counts = [a is not None for a in src]  # every value identifies someone
            if name in self.carries and pii in ("", "free_text_pii"):
                # Free text: the rows whose text names someone or carries PII count; a note
                # with nothing personal in it may well stay as it was.
                pii = "free_text_pii" if pii or any(self.carries[name]) else ""
                counts = self.carries[name] if pii else counts  # else: reported, never fatal
            identifying = sum(counts)
            equal = sum(
                1 for a, b, c in zip(src, values, counts, strict=True) if c and _norm(a) == _norm(b)
            )
            share = equal / identifying if identifying else 0.0
            out.append(
                LeakCheck(
                    self.rt.label,
                    name,
                    m.rule.technique,
                    len(src),
                    equal,
                    ok=not pii or share <= self.max_share,
                    identity_hiding=bool(pii),
                    method="target" if actual is not None else "batch",
                    pii_type=pii,
                    share=round(share, 4),
                )
            )
        return out

    def _read_columns(self) -> list[str]:
        """The key and masked columns only, read in a form the driver can fetch (SQL Server's
        datetimeoffset as its UTC instant): the check has no use for the others."""
        masked = [m.rule.target_column for m in self.masked]
        return list(dict.fromkeys([*self.key_cols, *masked]))

    def _read_target(self, target: Dialect) -> dict[tuple, tuple]:
        """Target rows of the sampled keys (key and masked columns), keyed by normalised key."""
        mark = placeholder(target)
        cols = self._read_columns()
        pos = [cols.index(k) for k in self.key_cols]
        table = target.qualified(self.rt.target.schema, self.rt.target.name)
        select = ", ".join(
            target.fetchable(info) if (info := self.rt.target.column(c)) else target.quote(c)
            for c in cols
        )
        per = max(1, min(500, target.capabilities.max_params_per_statement // len(self.key_cols)))
        found: dict[tuple, tuple] = {}
        cur = target.connect().cursor()
        try:
            for start in range(0, len(self.keys), per):
                chunk = self.keys[start : start + per]
                if len(self.key_cols) == 1:
                    cond = f"{target.quote(self.key_cols[0])} IN ({', '.join([mark] * len(chunk))})"
                    params = [k[0] for k in chunk]
                else:
                    one = " AND ".join(f"{target.quote(k)} = {mark}" for k in self.key_cols)
                    cond = " OR ".join(f"({one})" for _ in chunk)
                    params = [v for k in chunk for v in k]
                cur.execute(f"SELECT {select} FROM {table} WHERE {cond}", params)
                for row in cur.fetchall():
                    found[_key([row[p] for p in pos])] = tuple(row)
        finally:
            cur.close()
        return found
