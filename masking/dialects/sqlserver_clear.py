"""SQL Server: emptying a target table for a truncate-mode run, inside the run's transaction.

TRUNCATE TABLE deallocates the table's pages instead of logging each row's removal, so on a
large table it takes a moment where DELETE takes minutes and fills the transaction log; a
rollback brings the rows back either way. It is used only where it does exactly what a DELETE
of every row would: a table no foreign key references or is declared on (TRUNCATE refuses a
referenced table; one that references others is emptied with DELETE before its parents are,
in the run's order), without an enabled DELETE or INSTEAD OF DELETE trigger (TRUNCATE fires
none), no schema-bound reference (an indexed view), not tracked by change tracking or change
data capture, not replicated, not system-versioned, not a ledger, graph, external,
memory-optimized or FileTable table, and the login has ALTER on it (TRUNCATE's permission;
DELETE needs only DELETE). Everything else is emptied with DELETE, as before, and so is any
table when the catalog cannot be read.

One difference remains and is wanted: TRUNCATE resets an IDENTITY column's counter to its
seed. A load that writes the identity values (IDENTITY_INSERT) then leaves the counter past
the largest value written, whatever the table held before; a load that lets the server number
the rows keeps DELETE, so the numbers go on from where the table's counter was, as before.

TRUNCATE takes a schema-modification lock until the run commits, which would block the
bulk-copy session's `SELECT ... INTO` that sets up the table's staging; the dialect therefore
runs it in begin_load once the staging is set up (see SQLServerDialect.clear_table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from masking.dialects import sqlserver_sql as q
from masking.schema import TableInfo

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

# sys.tables columns of later versions (is_external 2016, is_node and is_edge 2017,
# ledger_type 2022), each with the test a table must pass; a catalog without one cannot have
# such a table.
OPTIONAL = {
    "ledger_type": "t.ledger_type = 0",
    "is_node": "t.is_node = 0",
    "is_edge": "t.is_edge = 0",
    "is_external": "t.is_external = 0",
}
CATALOG_OPTIONS = f"""
SELECT c.name FROM sys.all_columns c
WHERE c.object_id = OBJECT_ID(N'sys.tables')
  AND c.name IN ({", ".join(f"N'{name}'" for name in OPTIONAL)})
"""
DELETE_EVENT = 3  # sys.trigger_events.type


def truncatable_sql(present: frozenset[str] = frozenset()) -> str:
    """One row, 1 when TRUNCATE empties the table (parameters: its name twice) exactly as a
    DELETE would; no row or 0 otherwise. `present`: the OPTIONAL columns the catalog has."""
    optional = "".join(f"\n  AND {test}" for name, test in OPTIONAL.items() if name in present)
    return f"""
SELECT CASE WHEN HAS_PERMS_BY_NAME(?, 'OBJECT', 'ALTER') = 1 THEN 1 ELSE 0 END
FROM sys.tables t
WHERE t.object_id = OBJECT_ID(?) AND t.is_tracked_by_cdc = 0 AND t.temporal_type = 0
  AND t.is_memory_optimized = 0 AND t.is_replicated = 0 AND t.is_merge_published = 0
  AND t.is_sync_tran_subscribed = 0 AND t.is_filetable = 0{optional}
  AND NOT EXISTS (SELECT 1 FROM sys.foreign_keys f
                  WHERE f.referenced_object_id = t.object_id OR f.parent_object_id = t.object_id)
  AND NOT EXISTS (SELECT 1 FROM sys.triggers tr
                  JOIN sys.trigger_events e ON e.object_id = tr.object_id
                  WHERE tr.parent_id = t.object_id AND tr.is_disabled = 0
                    AND e.type = {DELETE_EVENT})
  AND NOT EXISTS (SELECT 1 FROM sys.sql_expression_dependencies d
                  WHERE d.referenced_id = t.object_id AND d.is_schema_bound_reference = 1)
  AND NOT EXISTS (SELECT 1 FROM sys.change_tracking_tables ct WHERE ct.object_id = t.object_id)
"""


def truncatable(rows: Rows, table: TableInfo) -> bool:
    """Whether TRUNCATE TABLE may empty `table` in place of DELETE."""
    name = q.qualified(table.schema, table.name)
    present = frozenset(str(r[0]) for r in rows(CATALOG_OPTIONS, ()))
    found = rows(truncatable_sql(present), (name, name))
    return bool(found and found[0][0])


def statement(table: TableInfo, columns: Sequence[str]) -> str:
    """TRUNCATE, or DELETE when the server numbers the rows of an IDENTITY column (its counter
    goes on as before)."""
    identity = [c.name for c in table.columns if c.is_identity]
    if identity and not set(identity) <= set(columns):
        return q.delete(table)
    return q.truncate(table)
