"""Target tables a run creates because the plan asks for them, and drops again when the run
fails or is cancelled, so the target is left as it was."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace

from masking.dialects.base import Dialect
from masking.errors import MaskingError
from masking.extract import table_key
from masking.plan import Plan
from masking.schema import ForeignKey, TableInfo

logger = logging.getLogger(__name__)

# (source schema, source table, target schema, target table); "" for a dialect's default schema
TableToCreate = tuple[str, str, str, str]


def table_label(schema: str, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def run_tables(plan: Plan) -> list[TableToCreate]:
    """Every table of `plan`, as create_missing's `run_tables` lists them."""
    return [(t.source_schema, t.source_table, t.target_schema, t.target_table) for t in plan.tables]


def create_missing(
    source: Dialect,
    target: Dialect,
    tables: Iterable[Sequence[str]],
    created: list[tuple[str, str]],
    *,
    run_tables: Iterable[Sequence[str]] = (),
) -> None:
    """Create each target table that does not exist yet, shaped like its source table (DDL
    transpiled to the target's dialect). Each one created is appended to `created` at once, so
    a failure part-way still knows what to drop.

    `run_tables`: every table of the run, listed as `tables` are (default: `tables`). A source
    foreign key to one of them becomes a foreign key of the created table, to where that table
    lands. Parents are created first; a key that would close a cycle of created tables is left
    out, and so are all keys of a table whose keys the target refuses (a key type its parent
    does not share): it is created without them, and the run still checks the copy against
    the source's keys."""
    sdef = source.capabilities.default_schema
    todo: dict[tuple[str, str], tuple[TableInfo, str, str]] = {}
    for src_schema, src_table, tgt_schema, tgt_table in tables:
        try:
            target.describe_table(tgt_schema or target.capabilities.default_schema, tgt_table)
            continue
        except MaskingError:
            pass
        info = source.describe_table(src_schema or sdef, src_table)
        todo[table_key(info.schema, info.name, sdef)] = (info, tgt_schema, tgt_table)
    lands = {
        table_key(s, t, sdef): (ts, tt)
        for s, t, ts, tt in (
            list(run_tables) or [(i.schema, i.name, s, n) for i, s, n in todo.values()]
        )
    }
    made: set[tuple[str, str]] = set()
    for key in _parents_first(todo, sdef):
        info, tgt_schema, tgt_table = todo[key]
        keys = [
            fk
            for parent, fk in planned_foreign_keys(info, lands, sdef)
            if parent not in todo or parent in made or parent == key
        ]
        _create(source, target, info, tgt_schema, tgt_table, keys)
        made.add(key)
        created.append((tgt_schema, tgt_table))


def created_foreign_keys(
    info: TableInfo, run_tables: Iterable[Sequence[str]], source_default: str
) -> list[ForeignKey]:
    """The foreign keys a table created from source table `info` gets, as the run's tables
    (listed as create_missing's `run_tables`) land (the wizard shows them in its DDL)."""
    lands = {table_key(s, t, source_default): (ts, tt) for s, t, ts, tt in run_tables}
    return [fk for _, fk in planned_foreign_keys(info, lands, source_default)]


def planned_foreign_keys(
    info: TableInfo, lands: dict[tuple[str, str], tuple[str, str]], source_default: str
) -> list[tuple[tuple[str, str], ForeignKey]]:
    """The source foreign keys of `info` whose parent is a table of the run, each with the
    parent's source key, turned to where the parent lands (`lands`: source key -> target
    schema and table). A created table keeps the source's column names."""
    named: dict[str, list[tuple[str, str]]] = {}
    for (_, name), where in lands.items():
        named.setdefault(name, []).append(where)
    out = []
    for fk in info.foreign_keys:
        parent = table_key(fk.ref_schema or info.schema, fk.ref_table, source_default)
        # A run may name a table without its schema (MySQL's is the database): by name then,
        # when one table of the run has it.
        found = lands.get(parent) or (
            named[parent[1]][0] if len(named.get(parent[1], ())) == 1 else None
        )
        if found is not None:
            schema, table = found
            out.append((parent, replace(fk, name="", ref_schema=schema, ref_table=table)))
    return out


def _parents_first(
    todo: dict[tuple[str, str], tuple[TableInfo, str, str]], source_default: str
) -> list[tuple[str, str]]:
    """The tables to create, each after the tables to create that it references (in a cycle,
    in the order given)."""
    order: list[tuple[str, str]] = []
    visiting: set[tuple[str, str]] = set()

    def visit(key: tuple[str, str]) -> None:
        if key in order or key in visiting:
            return
        visiting.add(key)
        info = todo[key][0]
        for fk in info.foreign_keys:
            parent = table_key(fk.ref_schema or info.schema, fk.ref_table, source_default)
            if parent in todo:
                visit(parent)
        order.append(key)

    for key in todo:
        visit(key)
    return order


def _create(
    source: Dialect,
    target: Dialect,
    info: TableInfo,
    schema: str,
    table: str,
    keys: Sequence[ForeignKey],
) -> None:
    def create(with_keys: Sequence[ForeignKey]) -> None:
        sql = target.create_table_sql(
            info, schema, table, source_dialect=source.name, foreign_keys=with_keys
        )
        with target.transaction():
            target.execute(sql)

    if not keys:
        create(())
        return
    try:
        create(keys)
    except Exception as exc:  # a parent key of another type, a missing unique key, ...
        logger.warning(
            "table %s created without its foreign keys: the target refused them (%s)",
            table_label(schema, table),
            type(exc).__name__,
        )
        create(())


def drop_created(target: Dialect, created: list[tuple[str, str]]) -> list[str]:
    """Drop the tables a failed run created (their rows were rolled back), newest first. A
    table that holds rows by now was written by someone else and stays. Never raises: the run's
    own error is what to report. Returns the labels of the tables dropped."""
    dropped = []
    for schema, table in reversed(created):
        label = table_label(schema, table)
        try:
            info = target.describe_table(schema or target.capabilities.default_schema, table)
            with target.transaction():  # counted and dropped in one transaction
                if target.count_rows(info):
                    logger.warning("created table %s holds rows; left in place", label)
                    continue
                target.execute(f"DROP TABLE {target.qualified(info.schema, info.name)}")
            dropped.append(label)
        except Exception as exc:  # a lost connection, a lock: logged, not raised
            logger.warning("could not drop created table %s (%s)", label, type(exc).__name__)
    return dropped
