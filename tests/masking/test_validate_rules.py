"""The validator's per-value rules on batches (uniqueness is in test_spill.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from masking import ColumnRule, ValidationFailed
from masking.extract import ResolvedTable
from masking.plan import TablePlan as TP
from masking.schema import ColumnInfo, TableInfo, TypeCategory
from masking.validate import BatchValidator


@pytest.mark.parametrize(
    ("value", "verdict"),
    [("éééé", "ok"), ("abcd", "ok"), ("ééééé", "max_length"), ("abcde", "max_length")],
)
def test_max_length_counts_characters_not_bytes(value: str, verdict: str) -> None:
    cols = (
        ColumnInfo("id", "integer", TypeCategory.NUMERIC, nullable=False, is_primary_key=True),
        ColumnInfo("name", "varchar", TypeCategory.STRING, max_length=4),
    )
    info = TableInfo("main", "t", cols, ("id",), (), ())
    rules = (ColumnRule("id", "id"), ColumnRule("name", "name"))
    validator = BatchValidator(ResolvedTable(TP("", "t", "", "t", rules), info, info, rules))
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1, 2], pa.int64()), pa.array(["ab", value])], names=["id", "name"]
    )
    try:
        validator.check(batch, 0, 1)
        got = "ok"
    except ValidationFailed as exc:
        got = exc.rule
        assert "row #2 (batch 1)" in str(exc)
    assert got == verdict
