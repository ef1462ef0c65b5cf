"""Target tables a run creates, and drops again when the run fails or is cancelled."""

from __future__ import annotations

import logging

from masking.errors import MaskingError

logger = logging.getLogger("maskflow.executions")


def table_label(schema: str, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def create_missing_targets(snapshot: dict, source, target, created: list[tuple[str, str]]) -> None:
    """Create the target tables the workflow marked create_target, when they do not exist yet;
    each one created is appended to `created` (schema, table) at once, so a failure part-way
    still knows what to drop."""
    for src_schema, src_table, tgt_schema, tgt_table in snapshot.get("create_targets") or []:
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


def drop_created(execution_id: int, target, created: list[tuple[str, str]]) -> list[str]:
    """After a failed or cancelled run, drop the tables it created (their rows were rolled
    back), newest first, so the target is left as it was. A table that holds rows by now was
    written by someone else and stays. Never raises: the run's own error is what to report.
    Returns the labels of the tables dropped."""
    dropped = []
    for schema, table in reversed(created):
        label = table_label(schema, table)
        try:
            info = target.describe_table(schema or target.capabilities.default_schema, table)
            with target.transaction():  # counted and dropped in one transaction
                if target.count_rows(info):
                    logger.warning(
                        "execution %s: created table %s holds rows; left in place",
                        execution_id,
                        label,
                    )
                    continue
                target.execute(f"DROP TABLE {target.qualified(info.schema, info.name)}")
            dropped.append(label)
        except Exception as exc:  # a lost connection, a lock: logged, not raised
            logger.warning(
                "execution %s: could not drop created table %s (%s)",
                execution_id,
                label,
                type(exc).__name__,
            )
    return dropped


def dropped_text(dropped: list[str]) -> str:
    return f" and the tables it created were dropped: {', '.join(dropped)}" if dropped else ""
