"""Extract stage: resolve a plan against live schemas, order tables, stream source batches."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from masking import offsets
from masking.dialects.base import Dialect
from masking.errors import MaskingError
from masking.load import wrap_error
from masking.plan import KEEP, ColumnRule, TablePlan
from masking.schema import ColumnInfo, TableInfo


@dataclass(frozen=True)
class ResolvedTable:
    """A table plan bound to the source and target structure as introspected right now."""

    plan: TablePlan
    source: TableInfo
    target: TableInfo
    rules: tuple[ColumnRule, ...]  # explicit rules plus pass-through for copy_unmapped

    @property
    def label(self) -> str:
        return self.plan.label

    def key(self, default_schema: str) -> tuple[str, str]:
        """Identity for FK matching: the introspected schema, as foreign keys report it."""
        return table_key(self.target.schema, self.target.name, default_schema)

    @property
    def source_columns(self) -> list[str]:
        return [r.source_column for r in self.rules]

    @property
    def read_columns(self) -> list[str]:
        """Source columns to read: the mapped ones, then entity keys that only key others."""
        cols = list(dict.fromkeys(self.source_columns))
        for rule in self.rules:
            entity = dict(rule.params).get("entity_column") if rule.masked else None
            if entity and entity not in cols and self.source.column(entity) is not None:
                cols.append(entity)
        return cols

    @property
    def target_columns(self) -> list[str]:
        return [r.target_column for r in self.rules]

    def target_column(self, name: str) -> ColumnInfo:
        col = self.target.column(name)
        assert col is not None  # resolution guarantees it
        return col

    def is_unique_target(self, rule: ColumnRule) -> bool:
        """A column alone is a key in the target, or in the source (its values identify rows)."""
        return self.target.is_unique(rule.target_column) or self.source.is_unique(
            rule.source_column
        )


def describe(dialect: Dialect, schema: str, table: str) -> TableInfo:
    try:
        return dialect.describe_table(schema or dialect.capabilities.default_schema, table)
    except MaskingError:
        raise
    except Exception as exc:  # driver errors become engine errors with scrubbed text
        raise wrap_error(exc, table=table, stage="introspection") from exc


def effective_rules(tp: TablePlan, source: TableInfo, target: TableInfo) -> tuple[ColumnRule, ...]:
    """The plan's rules, plus unchanged copies of unmapped columns when asked for."""
    rules = list(tp.columns)
    if tp.copy_unmapped:
        used_src = {r.source_column for r in rules}
        used_tgt = {r.target_column for r in rules}
        for col in source.columns:
            if col.name in used_src or col.name in used_tgt or col.is_computed:
                continue
            tcol = target.column(col.name)
            if tcol is not None and not tcol.is_computed:
                rules.append(ColumnRule(col.name, col.name, KEEP))
    return tuple(rules)


def table_key(schema: str, name: str, default_schema: str) -> tuple[str, str]:
    return ((schema or default_schema).lower(), name.lower())


def parents_of(rt: ResolvedTable, default_schema: str) -> set[tuple[str, str]]:
    own = rt.key(default_schema)
    keys = {table_key(fk.ref_schema, fk.ref_table, default_schema) for fk in rt.target.foreign_keys}
    keys.discard(own)  # self-references do not constrain the order
    return keys


def load_order(tables: list[ResolvedTable], default_schema: str) -> list[ResolvedTable]:
    """Parents before children among the plan's own target tables (stable; cycles keep plan
    order, where the database's own constraint checks decide)."""
    by_key = {t.key(default_schema): t for t in tables}
    deps = {k: parents_of(t, default_schema) & by_key.keys() for k, t in by_key.items()}
    ordered: list[ResolvedTable] = []
    done: set[tuple[str, str]] = set()
    pending = list(by_key)
    while pending:
        ready = [k for k in pending if deps[k] <= done]
        if not ready:  # a cycle: take the next one in plan order
            ready = [pending[0]]
        for k in ready:
            ordered.append(by_key[k])
            done.add(k)
            pending.remove(k)
    return ordered


def extract_batches(
    source: Dialect, rt: ResolvedTable, batch_size: int
) -> Generator[pa.RecordBatch, None, None]:
    """Source batches holding exactly the mapped source columns, in rule order. Close it (or
    exhaust it) before the source connection is used or closed again: the read runs in a
    thread until then."""
    columns = rt.read_columns
    iterator = prefetch(
        source.read_batches(rt.source, columns, batch_size, where=rt.plan.row_filter)
    )
    try:
        yield from _extracted(iterator, rt, columns)
    finally:
        iterator.close()  # joins the read: the source connection is free again


def _extracted(iterator: Iterator[Any], rt: ResolvedTable, columns: list[str]) -> Iterator[Any]:
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except MaskingError:
            raise
        except Exception as exc:
            raise wrap_error(exc, table=rt.label, stage="extract", columns=columns) from exc
        if batch.num_rows == 0:
            continue
        if batch.schema.names != columns:
            # Some read paths append paging keys; keep only what the rules asked for, and the
            # per-row offsets of those columns (masking.offsets).
            batch = offsets.with_companions(
                pa.RecordBatch.from_arrays([batch.column(c) for c in columns], names=columns),
                batch,
                columns,
            )
        yield batch


def count_source_rows(source: Dialect, rt: ResolvedTable) -> int:
    try:
        return source.count_rows(rt.source, where=rt.plan.row_filter)
    except MaskingError:
        raise
    except Exception as exc:
        raise wrap_error(
            exc, table=rt.label, stage="count", columns=[c.name for c in rt.source.columns]
        ) from exc


_DONE = object()


def prefetch(iterator: Iterator[Any], depth: int = 2) -> Generator[Any, None, None]:
    """Run `iterator` in a worker thread, `depth` items ahead of the consumer.

    The source read (network and driver time, mostly outside the GIL) then overlaps masking
    and the target write. At most `depth` batches wait in memory. The worker alone touches the
    source connection until the consumer finishes or stops, and it is joined before this
    generator returns, so a failure elsewhere never leaves a read running."""
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in iterator:
                if not put((True, item)):
                    break
            else:
                put((True, _DONE))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((False, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="maskflow-extract", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()
