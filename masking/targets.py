"""Target tables a run creates because the plan asks for them, and drops again when the run
fails or is cancelled, so the target is left as it was."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from masking.dialects.base import Dialect
from masking.errors import MaskingError

logger = logging.getLogger(__name__)

# (source schema, source table, target schema, target table); "" for a dialect's default schema
TableToCreate = tuple[str, str, str, str]


def table_label(schema: str, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def create_missing(
    source: Dialect,
    target: Dialect,
    tables: Iterable[Sequence[str]],
    created: list[tuple[str, str]],
) -> None:
    """Create each target table that does not exist yet, shaped like its source table (DDL
    transpiled to the target's dialect). Each one created is appended to `created` at once, so
    a failure part-way still knows what to drop."""
    for src_schema, src_table, tgt_schema, tgt_table in tables:
        try:
            target.describe_table(tgt_schema or target.capabilities.default_schema, tgt_table)
            continue
        except MaskingError:
            pass
        info = source.describe_table(src_schema or source.capabilities.default_schema, src_table)
        sql = target.create_table_sql(info, tgt_schema, tgt_table, source_dialect=source.name)
        with target.transaction():
            target.execute(sql)
        created.append((tgt_schema, tgt_table))


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
