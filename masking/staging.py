"""Staging tables in the target: units load there, the run publishes from there.

Each table of a run gets `mf_stage_<run>_<n>`: the target table's mapped columns without any
constraint (UNLOGGED on PostgreSQL). A ledger table `mf_stage_<run>_units` records each
complete unit in the same target transaction as its rows, so what the ledger lists is exactly
what is staged, whatever happened to the worker: a unit the ledger lists is never staged again,
and one it does not list has no rows staged.

Publishing is one target transaction, parents first (Dialect.publish_from); a failure in it
rolls back and the target is as it was. The staging tables are dropped after a publish, or when
a run is discarded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from masking.dialects.base import Dialect
from masking.errors import ValidationFailed
from masking.extract import ResolvedTable
from masking.leaks import placeholder
from masking.load import wrap_error
from masking.schema import TableInfo

PREFIX = "mf_stage_"
_RUN_ID = re.compile(r"^[a-z0-9]{1,24}$")


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise ValueError("a run id is 1 to 24 lower-case letters and digits")
    return run_id


def stage_name(run_id: str, n: int) -> str:
    return f"{PREFIX}{check_run_id(run_id)}_{n}"


def ledger_name(run_id: str) -> str:
    return f"{PREFIX}{check_run_id(run_id)}_units"


def _schema(target: Dialect, rt: ResolvedTable) -> str:
    return rt.target.schema or target.capabilities.default_schema


def create_stage(target: Dialect, rt: ResolvedTable, name: str, *, copy: bool = False) -> None:
    """An empty copy of the mapped target columns, no constraints; with `copy`, a copy of the
    whole target table without its keys (Dialect.copy_stage_sql), that becomes the table at a
    publish by swap."""
    schema = _schema(target, rt)
    cols = ", ".join(target.quote(c) for c in rt.target_columns)
    source = target.qualified(rt.target.schema, rt.target.name)
    stage = target.qualified(schema, name)
    try:
        if copy:
            target.execute(target.copy_stage_sql(stage, source))
        else:
            target.execute(target.create_stage_sql(stage, source, cols))
    except Exception as exc:
        raise wrap_error(exc, table=rt.label, stage="create staging") from exc


def create_ledger(target: Dialect, schema: str, run_id: str) -> None:
    table = target.qualified(schema, ledger_name(run_id))
    target.execute(
        f"CREATE TABLE {table} ({target.quote('unit')} INTEGER PRIMARY KEY,"
        f" {target.quote('rows_read')} BIGINT NOT NULL, {target.quote('rows_masked')} BIGINT"
        " NOT NULL)"
    )


def stage_info(target: Dialect, rt: ResolvedTable, name: str) -> TableInfo:
    return target.describe_table(_schema(target, rt), name)


def staged_unit(target: Dialect, schema: str, ledger: str, unit: int) -> tuple[int, int] | None:
    """(rows read, rows masked) of the unit when the ledger lists it (its rows are staged and
    committed), else None (nothing of it is staged)."""
    mark = placeholder(target)
    table = target.qualified(schema, ledger)
    cur = target.connect().cursor()
    try:
        cur.execute(
            f"SELECT {target.quote('rows_read')}, {target.quote('rows_masked')} FROM {table}"
            f" WHERE {target.quote('unit')} = {mark}",
            (unit,),
        )
        found = cur.fetchone()
    finally:
        cur.close()
    return None if found is None else (int(found[0]), int(found[1]))


def record_unit(target: Dialect, schema: str, ledger: str, unit: int, rows: int, masked: int):
    mark = placeholder(target)
    target.execute(
        f"INSERT INTO {target.qualified(schema, ledger)} VALUES ({mark}, {mark}, {mark})",
        (unit, rows, masked),
    )


def complete_units(target: Dialect, schema: str, run_id: str) -> dict[int, tuple[int, int]]:
    """unit -> (rows read, rows masked) for every unit whose staged rows are committed;
    empty when the run has no ledger (never prepared, or discarded)."""
    table = target.qualified(schema, ledger_name(run_id))
    try:
        rows = _rows(target, f"SELECT * FROM {table}")
    except Exception:
        _recover(target)
        return {}
    return {int(u): (int(r), int(m)) for u, r, m in rows}


def staging_tables(target: Dialect, schema: str, run_id: str | None = None) -> list[str]:
    """Staging tables present in the target (of one run, or of every run)."""
    prefix = PREFIX + (f"{check_run_id(run_id)}_" if run_id else "")
    names = [t.name for t in target.list_tables(schema)]
    return sorted(n for n in names if n.startswith(prefix))


def drop_tables(target: Dialect, schema: str, names: Sequence[str]) -> None:
    """Drop staging tables (never anything else). Tables built for a swap may reference each
    other: one that another still references is dropped in a later round."""
    pending = [n for n in names if n.startswith(PREFIX)]
    while pending:
        failed: list[tuple[str, Exception]] = []
        for name in pending:
            try:
                target.execute(f"DROP TABLE IF EXISTS {target.qualified(schema, name)}")
            except Exception as exc:
                failed.append((name, exc))
        if len(failed) == len(pending):
            first, error = failed[0]
            raise wrap_error(error, table=first, stage="drop staging") from error
        pending = [name for name, _ in failed]


def check_staged(
    target: Dialect,
    rt: ResolvedTable,
    stage: TableInfo,
    expected_rows: int,
    unique: Sequence[str],
    append: bool,
) -> None:
    """Counts, and uniqueness across units (and against existing rows in append mode)."""
    table = target.qualified(stage.schema, stage.name)
    got = int(_rows(target, f"SELECT COUNT(*) FROM {table}")[0][0])
    if got != expected_rows:
        raise ValidationFailed(
            rt.label, "", "", "row_count", f"units recorded {expected_rows} rows, staged {got}"
        )
    live = target.qualified(rt.target.schema, rt.target.name)
    for name in unique:
        col = target.quote(name)
        dup = _exists(
            target,
            f"SELECT 1 FROM {table} WHERE {col} IS NOT NULL GROUP BY {col} HAVING COUNT(*) > 1",
        )
        if not dup and append:
            dup = _exists(target, f"SELECT 1 FROM {table} s JOIN {live} t ON s.{col} = t.{col}")
        if dup:
            raise ValidationFailed(
                rt.label, name, "", "unique", "the masked values repeat across units or rows"
            )


def _exists(target: Dialect, query: str) -> bool:
    """Whether `query` returns a row, in SQL every dialect reads (T-SQL has no LIMIT)."""
    return bool(_rows(target, f"SELECT CASE WHEN EXISTS ({query}) THEN 1 ELSE 0 END")[0][0])


def _rows(target: Dialect, sql: str) -> list[tuple[Any, ...]]:
    cur = target.connect().cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _recover(target: Dialect) -> None:
    """After a failed probe outside a transaction: nothing to undo but an aborted state."""
    conn = target._conn
    if conn is not None and not target._in_tx:
        try:
            conn.rollback()
        except Exception:
            pass
