"""MySQL and MariaDB through mysqlclient (MySQLdb). The configured database is the one schema.

Options: `ssl_mode` (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY) and `ssl`
({"ca", "cert", "key"} file paths). The session time zone is UTC, so TIMESTAMP columns read and
write UTC wall-clock values."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import pyarrow as pa

from masking.dberrors import connection_failed, database_error
from masking.dialects import arrowconv, common, ddl, mysql_catalog, mysql_values
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.typemaps import MYSQL_TYPES
from masking.errors import ConnectionFailed, ValidationFailed
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
)

_ERRNO_CATEGORY = {
    1045: "login_failed",
    1698: "login_failed",
    1044: "permission_denied",
    1142: "permission_denied",
    1049: "database_not_found",
    2002: "unreachable",
    2003: "unreachable",
    2005: "unreachable",
    2013: "unreachable",
    2026: "tls",
    2059: "driver_missing",
}
# Rows per INSERT also stay well under max_allowed_packet for ordinary rows.
MAX_ROWS_PER_INSERT = 1000


class MySQLDialect(Dialect):
    name = "mysql"
    capabilities = Capabilities(
        sqlglot_dialect="mysql",
        quote_open="`",
        quote_close="`",
        supports_schemas=True,
        default_schema="",
        max_params_per_statement=65535,
        truncate_is_transactional=False,
        max_identifier_length=64,
    )
    type_map = MYSQL_TYPES
    _escapes_for: tuple[Any, bool] | None = None  # (connection, backslash escapes on)

    # --- connection ---------------------------------------------------------------------------
    def _open(self) -> Any:
        try:
            import MySQLdb
        except ImportError as exc:
            raise ConnectionFailed("driver_missing", "mysqlclient is not installed") from exc
        p = self.params
        kwargs: dict[str, Any] = {
            "host": p.host or "127.0.0.1",
            "port": int(p.port or 3306),
            "user": p.username,
            "password": p.password,
            "database": p.database,
            "charset": "utf8mb4",
            "connect_timeout": max(1, int(p.timeout)),
            "autocommit": True,
        }
        # ssl_mode: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY;
        # ssl: {"ca": ..., "cert": ..., "key": ...} file paths.
        if p.options.get("ssl_mode"):
            kwargs["ssl_mode"] = str(p.options["ssl_mode"]).upper()
        if isinstance(p.options.get("ssl"), dict):
            kwargs["ssl"] = p.options["ssl"]
        try:
            conn = MySQLdb.connect(**kwargs)
        except MySQLdb.Error as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            raw = str(exc.args[1] if len(exc.args) > 1 else exc)
            category = (_ERRNO_CATEGORY.get(code) if code is not None else None) or common.classify(
                raw
            )
            raise connection_failed(category) from exc
        cur = conn.cursor()
        # TIMESTAMP columns are converted through the session time zone: pin it to UTC.
        cur.execute("SET time_zone = '+00:00'")
        cur.close()
        return conn

    def connect(self) -> Any:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def test(self) -> TestResult:
        def probe(conn: Any) -> str:
            cur = conn.cursor()
            cur.execute("SELECT version()")
            version = str(cur.fetchone()[0])
            cur.close()
            return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + version

        return TestResult(*common.timed_test(self.connect, probe, [self.params.password]))

    def _rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._rows(sql, params or None)

    def qualified(self, schema: str, table: str) -> str:
        return f"{self.quote(schema or self.params.database)}.{self.quote(table)}"

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return [self.params.database]

    def list_tables(self, schema: str) -> list[TableSummary]:
        return mysql_catalog.list_tables(self._rows, self.params.database, schema)

    def describe_table(self, schema: str, table: str) -> TableInfo:
        return mysql_catalog.describe_table(self._rows, self.params.database, schema, table)

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        sql = f"SELECT count(*) FROM {self.qualified(table.schema, table.name)}"
        if where:
            sql += f" WHERE ({where})"
        return int(self._rows(sql)[0][0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        wanted, extra = common.select_list(table, columns)
        select = [self.quote(c.name) for c in wanted] + [self.quote(k) for k in extra]
        base = f"SELECT {', '.join(select)} FROM {self.qualified(table.schema, table.name)}"
        if not table.primary_key:
            yield from self._read_streaming(base, wanted, batch_size, where)
            return
        # Dates, datetimes and decimals are read as their text and parsed by Arrow; a page
        # holding any other form (zero dates, out-of-range years, more digits than Arrow's
        # decimal holds) is read again with driver conversion.
        text_idx = [
            i
            for i, c in enumerate(wanted)
            if mysql_values.text_temporal(c) or mysql_values.text_decimal(c)
        ]
        text_select = [f"CAST({s} AS CHAR)" if i in text_idx else s for i, s in enumerate(select)]
        text_base = (
            f"SELECT {', '.join(text_select)} FROM {self.qualified(table.schema, table.name)}"
        )
        key_idx = [
            len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
            for k in table.primary_key
        ]
        fast = bool(text_idx)
        one_pass: arrowconv.RowsToArrow | None = mysql_values.row_converter(
            wanted, [c for c in (table.column(k) for k in extra) if c is not None], text_idx
        )
        plain_pass: arrowconv.RowsToArrow | None = mysql_values.row_converter(
            wanted, [c for c in (table.column(k) for k in extra) if c is not None], []
        )
        last: list[Any] | None = None
        while True:
            batch = None
            if fast:
                rows = self._keyset_page(text_base, table, last, batch_size, where)
                if one_pass is not None and rows:
                    batch = one_pass.batch(rows)
                    if batch is None:
                        one_pass = None
                if batch is None:
                    batch = mysql_values.text_batch(rows, wanted, text_idx)
                fast = batch is not None
            if batch is None:
                rows = self._keyset_page(base, table, last, batch_size, where)
                batch = plain_pass.batch(rows) if plain_pass is not None and rows else None
                if batch is None:
                    plain_pass = None
                    batch = arrowconv.rows_to_batch(rows, wanted) if rows else None
            if not rows or batch is None:
                return
            # Text-read keys take their parsed value (what the driver would have returned).
            last = [
                batch.column(i)[len(rows) - 1].as_py() if fast and i in text_idx else rows[-1][i]
                for i in key_idx
            ]
            yield batch
            if len(rows) < batch_size:
                return

    def _keyset_page(
        self,
        base: str,
        table: TableInfo,
        last: list[Any] | None,
        batch_size: int,
        where: str | None,
    ) -> list[tuple[Any, ...]]:
        # MySQLdb interpolates with %, so literal % in identifiers/predicates is doubled.
        keys = [self.quote(k).replace("%", "%%") for k in table.primary_key]
        conds = [f"({where.replace('%', '%%')})"] if where else []
        params: list[Any] = []
        if last is not None:
            conds.append(common.keyset_predicate(keys, "%s", tuples=True))
            params = list(last)
        sql = (
            base.replace("%", "%%")
            + (" WHERE " + " AND ".join(conds) if conds else "")
            + " ORDER BY "
            + ", ".join(keys)
            + " LIMIT %s"
        )
        return self._rows(sql, (*params, batch_size))

    def _read_streaming(
        self, base: str, wanted: list[ColumnInfo], batch_size: int, where: str | None
    ) -> Iterator[pa.RecordBatch]:
        """No primary key: an unbuffered (SSCursor) scan on its own connection, because an
        unfinished streaming result blocks every other statement on its connection."""
        import MySQLdb.cursors

        conn = self._open()
        try:
            cur = conn.cursor(MySQLdb.cursors.SSCursor)
            cur.execute(base + (f" WHERE ({where})" if where else ""))
            while rows := cur.fetchmany(batch_size):
                yield arrowconv.rows_to_batch(rows, wanted)
            cur.close()
        finally:
            conn.close()

    # --- writing ------------------------------------------------------------------------------
    def _begin(self) -> None:
        self._rows("START TRANSACTION")

    def _commit(self) -> None:
        self.connect().commit()

    def _rollback(self) -> None:
        self.connect().rollback()

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        """Inside begin_load/end_load the batch is queued for the load's writer thread (its
        errors surface at a later write or at end_load); otherwise it is inserted now."""
        cols = common.insertable(table, columns)
        if not cols or batch.num_rows == 0:
            return 0
        if self._queue(table, columns, batch):
            return batch.num_rows
        return self._insert(table, cols, batch)

    def _insert(self, table: TableInfo, cols: Sequence[str], batch: pa.RecordBatch) -> int:
        import MySQLdb

        n = batch.num_rows
        per_stmt = max(
            1, min(MAX_ROWS_PER_INSERT, self.capabilities.max_params_per_statement // len(cols))
        )
        head = (
            f"INSERT INTO {self.qualified(table.schema, table.name)} "
            f"({', '.join(self.quote(c) for c in cols)}) VALUES "
        )
        rows = mysql_values.row_literals(
            [batch.column(batch.schema.get_field_index(c)) for c in cols],
            backslash_escapes=self._backslash_escapes(),
        )
        cur = self.connect().cursor()
        try:
            if rows is not None:
                # Rendered by Arrow: the driver's per-value quoting cost more than the insert.
                for start in range(0, n, per_stmt):
                    cur.execute(head + ", ".join(rows[start : min(start + per_stmt, n)]))
            else:
                values = [
                    mysql_values.encode_column(batch.column(batch.schema.get_field_index(c)))
                    for c in cols
                ]
                one = "(" + ", ".join("%s" for _ in cols) + ")"
                for start in range(0, n, per_stmt):
                    stop = min(start + per_stmt, n)
                    cur.execute(
                        head.replace("%", "%%") + ", ".join(one for _ in range(stop - start)),
                        list(
                            chain.from_iterable(zip(*(v[start:stop] for v in values), strict=True))
                        ),
                    )
        except MySQLdb.Error as exc:
            raise database_error(
                exc,
                table=f"{table.schema}.{table.name}",
                stage="write",
                columns=[c.name for c in table.columns],
            ) from exc
        finally:
            cur.close()
        return n

    def _backslash_escapes(self) -> bool:
        """Whether string literals treat a backslash as an escape (the session's sql_mode
        lacks NO_BACKSLASH_ESCAPES). Read once per connection."""
        conn = self.connect()
        known = self._escapes_for
        if known is None or known[0] is not conn:
            mode = str(self._rows("SELECT @@SESSION.sql_mode")[0][0]).upper().split(",")
            known = self._escapes_for = (conn, "NO_BACKSLASH_ESCAPES" not in mode)
        return known[1]

    def clear_table(self, table: TableInfo) -> None:
        # TRUNCATE would commit the surrounding transaction implicitly.
        sql = f"DELETE FROM {self.qualified(table.schema, table.name)}"
        if not _refers_to_itself(table):
            self.execute(sql)
            return
        # Row by row, InnoDB refuses to delete a row another row of the table still references:
        # checks are off for the DELETE, then the other tables' references are checked here.
        self.execute("SET SESSION foreign_key_checks = 0")
        try:
            self.execute(sql)
            self._check_foreign_keys(self._referencing(table))
        finally:
            self.execute("SET SESSION foreign_key_checks = 1")

    def _referencing(self, table: TableInfo) -> list[tuple[str, str, Sequence[ForeignKey]]]:
        """The other tables' foreign keys to `table`: (schema, table, keys)."""
        rows = self._rows(
            "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, "
            "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE REFERENCED_TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME = %s "
            "AND NOT (TABLE_SCHEMA = %s AND TABLE_NAME = %s) "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            [table.schema, table.name, table.schema, table.name],
        )
        keys: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        for schema, name, constraint, column, ref in rows:
            keys.setdefault((schema, name, constraint), []).append((column, ref))
        out: dict[tuple[str, str], list[ForeignKey]] = {}
        for (schema, name, constraint), pairs in keys.items():
            cols, refs = zip(*pairs, strict=True)
            fk = ForeignKey(constraint, tuple(cols), table.schema, table.name, tuple(refs))
            out.setdefault((schema, name), []).append(fk)
        return [(schema, name, fks) for (schema, name), fks in out.items()]

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._abort_writer()  # a load left open by a caller that never ended it
        # An explicit 0 in an AUTO_INCREMENT column would otherwise draw a new value.
        mode = str(self._rows("SELECT @@SESSION.sql_mode")[0][0])
        if "NO_AUTO_VALUE_ON_ZERO" not in mode.split(","):
            self.execute(
                "SET SESSION sql_mode = %s",
                (",".join(m for m in (mode, "NO_AUTO_VALUE_ON_ZERO") if m),),
            )
        if _refers_to_itself(table):
            # InnoDB checks each row as it goes in, so a row whose parent row comes later in
            # the same table would be refused: checks wait for the load's end (end_load).
            self.execute("SET SESSION foreign_key_checks = 0")
        if cols := common.insertable(table, columns):
            # mysqlclient releases the GIL while the server runs a statement: inserting batch
            # N in a thread overlaps with reading and masking batch N+1.
            self._start_writer(table, columns, lambda batch: self._insert(table, cols, batch))

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._finish_writer()
        if _refers_to_itself(table):
            try:
                self._check_foreign_keys([_keys_of(table)])
            finally:
                self.execute("SET SESSION foreign_key_checks = 1")

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._abort_writer()
        if _refers_to_itself(table):
            self.execute("SET SESSION foreign_key_checks = 1")

    _unchecked: tuple[TableInfo, ...] = ()  # the tables a publish loads unchecked

    def defer_foreign_keys(self, tables: Sequence[TableInfo]) -> list[tuple[str, str]]:
        """A publish into a table that references itself (INSERT ... SELECT checks row by row
        too): checks are off for the session until restore_foreign_keys has checked every
        foreign key of the published tables itself."""
        if not self._in_tx or not any(_refers_to_itself(t) for t in tables):
            return []
        self.execute("SET SESSION foreign_key_checks = 0")
        self._unchecked = tuple(tables)
        return [(f"{t.schema}.{t.name}", "") for t in tables]

    def restore_foreign_keys(self, deferred: Sequence[tuple[str, str]]) -> None:
        if not deferred:
            return
        tables, self._unchecked = self._unchecked, ()
        try:
            self._check_foreign_keys([_keys_of(t) for t in tables])
        finally:
            self.execute("SET SESSION foreign_key_checks = 1")

    def _check_foreign_keys(self, tables: Sequence[tuple[str, str, Sequence[ForeignKey]]]) -> None:
        """What the server did not check while foreign_key_checks was off: each foreign key
        of each (schema, table, keys), its rows against their parent's."""
        for schema, name, fks in tables:
            for fk in fks:
                parent = self.qualified(fk.ref_schema or schema, fk.ref_table)
                sql = common.orphans_sql(
                    self.quote, self.qualified(schema, name), parent, fk.columns, fk.ref_columns
                )
                orphans = self._rows(sql)[0][0]
                if orphans:
                    raise ValidationFailed(
                        f"{schema}.{name}",
                        ", ".join(fk.columns),
                        "",
                        "foreign_key",
                        f"{orphans} row(s) reference no row of {fk.ref_table}",
                    )

    # --- staged runs ------------------------------------------------------------------------
    # InnoDB exports no snapshot to other sessions: each unit reads in a consistent-snapshot
    # transaction of its own, so units of one table may see different moments of the source.
    read_consistency = "unit"

    @contextmanager
    def snapshot_reads(self, token: str | None) -> Iterator[None]:
        self.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield
        finally:
            if self._conn is not None:
                self.execute("ROLLBACK")

    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
        foreign_keys: Sequence[ForeignKey] = (),
    ) -> str:
        return (
            ddl.create_table_sql(
                table,
                target_schema,
                target_name,
                source_dialect=source_dialect,
                target_dialect="mysql",
                qualified=self.qualified,
                quote=self.quote,
                identity_clause=lambda c: "AUTO_INCREMENT",
                foreign_keys=foreign_keys,
            )
            + " DEFAULT CHARSET=utf8mb4"
        )


def _refers_to_itself(table: TableInfo) -> bool:
    return any(
        fk.ref_table.lower() == table.name.lower()
        and (fk.ref_schema or table.schema).lower() == table.schema.lower()
        for fk in table.foreign_keys
    )


def _keys_of(table: TableInfo) -> tuple[str, str, Sequence[ForeignKey]]:
    return table.schema, table.name, table.foreign_keys
