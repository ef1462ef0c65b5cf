"""Uniqueness past the memory limit: values spill to disk and are checked after the last
batch, with the same verdict, row and explanation as when every value stays in memory."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking import ColumnRule, Plan, TablePlan, ValidationFailed, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.extract import ResolvedTable
from masking.plan import TablePlan as TP
from masking.schema import ColumnInfo, TableInfo, TypeCategory, UniqueConstraint
from masking.spill import _RECORD, EXISTING, HashSpill
from masking.techniques.hashset import SortedHashes
from masking.validate import BatchValidator
from tests.masking.test_pipeline import execute, fetch

SECRET = b"pipeline-spill-key-0123456789ab"


@pytest.fixture
def dbs(tmp_path) -> Iterator[tuple[Dialect, Dialect]]:  # type: ignore[no-untyped-def]
    def sqlite(name: str) -> Dialect:
        params = ConnectionParams("sqlite", database=str(tmp_path / name), options={"create": True})
        return get_dialect(params)

    src, tgt = sqlite("s.db"), sqlite("t.db")
    yield src, tgt
    src.close()
    tgt.close()


def _resolved() -> ResolvedTable:
    cols = (
        ColumnInfo("id", "integer", TypeCategory.NUMERIC, nullable=False, is_primary_key=True),
        ColumnInfo("code", "integer", TypeCategory.NUMERIC),
    )
    info = TableInfo("main", "t", cols, ("id",), (), (UniqueConstraint("u_code", ("code",)),))
    rules = (ColumnRule("id", "id"), ColumnRule("code", "code", "hash"))
    return ResolvedTable(TP("", "t", "", "t", rules), info, info, rules)


def _verdict(batches: list[list[tuple[int, int | None]]], memory_keys: int) -> str:
    """Run (source value, output) batches through a validator; its error, or "ok"."""
    validator = BatchValidator(
        _resolved(), sources={"code": ("code", "hash")}, memory_keys=memory_keys
    )
    offset = 0
    try:
        for batch_no, rows in enumerate(batches, start=1):
            ids = pa.array(range(offset + 1, offset + len(rows) + 1), pa.int64())
            src = pa.RecordBatch.from_arrays(
                [ids, pa.array([s for s, _ in rows], pa.int64())], names=["id", "code"]
            )
            out = pa.RecordBatch.from_arrays(
                [ids, pa.array([o for _, o in rows], pa.int64())], names=["id", "code"]
            )
            validator.check(out, offset, batch_no, src)
            offset += len(rows)
        validator.finish()
    except ValidationFailed as exc:
        return str(exc)
    finally:
        validator.close()
    return "ok"


_row = st.integers(0, 40).flatmap(
    lambda s: st.tuples(st.just(s), st.one_of(st.none(), st.integers(0, 60)))
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_row, max_size=12), max_size=10), st.integers(0, 20))
def test_spilled_values_get_the_same_verdict_as_values_in_memory(batches, memory_keys) -> None:  # type: ignore[no-untyped-def]
    # outputs repeat (collisions) and sources repeat (source repeats); NULLs never clash
    assert _verdict(batches, memory_keys) == _verdict(batches, 10_000)


def _expected(batches: list[list[tuple[int, int | None]]]) -> str:
    """The verdict, worked out row by row: the first output seen before, and why."""
    first: dict[int, int] = {}
    row = 0
    for batch_no, rows in enumerate(batches, start=1):
        for src, out in rows:
            row += 1
            if out is None:
                continue
            if out in first:
                why = "source repeats it" if first[out] == src else "the same output"
                return f"row #{row} (batch {batch_no})|{why}"
            first[out] = src
    return "ok"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_row, max_size=12), max_size=10), st.booleans())
def test_in_memory_verdicts_match_a_row_by_row_reference(batches, numpy_map) -> None:  # type: ignore[no-untyped-def]
    # the C table and SortedHashes (its fallback where the extension is not built) alike
    fallback = mock.patch("masking.spill.owner_map", lambda: SortedHashes(payload=True))
    with fallback if numpy_map else contextlib.nullcontext():
        verdict = _verdict(batches, 10_000)
    want = _expected(batches)
    if want == "ok":
        assert verdict == "ok"
    else:
        where, why = want.split("|")
        assert where in verdict
        assert why in verdict


def test_a_duplicate_found_on_disk_names_its_later_row_and_why() -> None:
    batches = [[(1, 10), (2, 20)], [(3, 30), (4, 40)], [(5, 50), (6, 20)]]
    verdict = _verdict(batches, memory_keys=1)
    assert "row #6 (batch 3)" in verdict
    assert "technique 'hash' gave two different source values the same output" in verdict
    assert _verdict([[(1, 10), (2, 20)], [(3, 30), (2, 20)]], 1).count("the source repeats it")
    assert _verdict([[(1, 10), (2, 20)], [(3, 30), (4, 40)]], 1) == "ok"


def test_values_already_in_the_target_spill_too() -> None:
    validator = BatchValidator(_resolved(), sources={"code": ("code", "hash")}, memory_keys=2)
    existing = pa.RecordBatch.from_arrays(
        [pa.array([100, 101, 102, 103], pa.int64()), pa.array([7, 8, 9, 11], pa.int64())],
        names=["id", "code"],
    )
    validator.seed_existing([existing])
    ids = pa.array([1, 2], pa.int64())
    out = pa.RecordBatch.from_arrays([ids, pa.array([5, 11], pa.int64())], names=["id", "code"])
    try:
        validator.check(out, 0, 1, out)
        with pytest.raises(ValidationFailed, match=r"row #2 \(batch 1\).*already in a row"):
            validator.finish()
    finally:
        validator.close()


def test_a_spill_removes_its_files_when_closed(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spill = HashSpill(partitions=4)
    h = np.array([1, 2, 1 << 63, 1 << 63], dtype=np.uint64)
    spill.add(h, np.array([3, 5, 7, 9], np.uint64), np.array([1, 2, 3, 4], np.uint64), 1)
    assert len(list(tmp_path.iterdir())) == 1 and spill.count == 4
    dup = spill.first_duplicate()
    assert dup is not None and (dup.row, dup.owner, dup.other) == (4, 9, 7)
    spill.close()
    assert list(tmp_path.iterdir()) == []
    assert EXISTING == 0


def test_a_run_past_the_memory_limit_fails_on_a_late_duplicate(dbs, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SQLite → SQLite, 3,000 rows, 100 values kept in memory: a collision between rows 2,500
    and 2,900 is found on disk; the target keeps nothing and no spill file is left."""
    monkeypatch.setattr("masking.spill.MEMORY_KEYS", 100)
    spills = tmp_path / "spills"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))
    src, tgt = dbs
    execute(src, "CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(80))")
    execute(tgt, "CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(80) UNIQUE)")
    rows = [(i, f"user{i}@example.org") for i in range(1, 3001)]
    rows[2899] = (2900, rows[2499][1])  # the source repeats row 2,500's address
    execute(src, "INSERT INTO t VALUES (?, ?)", rows)
    src.connect().commit()
    tgt.connect().commit()
    plan = Plan(
        tables=(
            TablePlan(
                "", "t", "", "t", (ColumnRule("email", "email", "email"),), copy_unmapped=True
            ),
        ),
        secret=SECRET,
        batch_size=500,
    )
    with pytest.raises(ValidationFailed, match="the source repeats it") as exc:
        run(plan, src, tgt)
    assert "row #2900 (batch 6)" in str(exc.value)
    assert "user" not in str(exc.value)
    assert fetch(tgt, "SELECT COUNT(*) FROM t")[0][0] == 0
    assert list(spills.iterdir()) == []
    rows[2899] = (2900, "someone.else@example.org")
    execute(src, "UPDATE t SET email = ? WHERE id = 2900", [(rows[2899][1],)])
    src.connect().commit()
    result = run(plan, src, tgt)
    assert result.tables[0].rows_written == 3000
    assert fetch(tgt, "SELECT COUNT(DISTINCT email) FROM t")[0][0] == 3000
    assert list(spills.iterdir()) == []


def test_spill_files_hold_hashes_keyed_by_the_validator(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The spilled owners are hashes of source values: with a seed everyone knows, a guessed
    value could be checked against the files. Each validator draws its own, kept in memory."""
    from masking.validate import _hashes

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = pa.array(range(1000, 1100), pa.int64())
    known = set(_hashes(source).tolist()) | {int(x) | 1 for x in _hashes(source).tolist()}
    seen: list[set[int]] = []
    for _ in range(2):
        validator = BatchValidator(_resolved(), sources={"code": ("code", "hash")}, memory_keys=0)
        ids = pa.array(range(1, 101), pa.int64())
        src = pa.RecordBatch.from_arrays([ids, source], names=["id", "code"])
        out = pa.RecordBatch.from_arrays([ids, pa.array(range(100), pa.int64())], ["id", "code"])
        validator.check(out, 0, 1, src)
        words = set()
        for f in tmp_path.glob("*/*"):
            rec = np.fromfile(f, dtype=_RECORD)
            words |= set(rec["h"].tolist()) | set(rec["owner"].tolist())
        validator.finish()
        validator.close()
        assert words and not words & known
        seen.append(words)
    assert not seen[0] & seen[1]  # two validators, two keys


def test_text_hashes_are_keyed_and_the_same_for_every_arrow_text_type() -> None:
    from masking.validate import _hashes

    emails = pa.array(["a@example.org", "b@example.org", "A@example.org"])
    h = _hashes(emails)
    assert len(set(h.tolist())) == 3
    assert (_hashes(emails.cast(pa.large_string())) == h).all()
    assert (_hashes(emails.cast(pa.binary())) == h).all()
    assert not (_hashes(emails, bytes(16)) == h).any()
