"""PostgreSQL publish by swap: a truncate-mode staged run builds each target table's
replacement beside it, outside the publish, and the publish only exchanges the tables.

Before the publish, for every table of the run: a table `LIKE` the target (columns, defaults,
NOT NULL and CHECK constraints, generated and identity columns, storage, compression,
statistics targets, column comments), filled from the staging table; the target's owner,
privileges and table comment; its primary key, unique constraints and indexes, built under
temporary names; its foreign keys to the other replacements, checked as they are added; then
ANALYZE. The publish transaction locks the targets, checks that their definitions are still
those the replacements copied, drops them (children first), renames each replacement, its keys
and its identity sequences to the target's names (a serial column's sequence is handed over to
the replacement's column), adds the foreign keys to parents outside the run (checked then) and
commits: the lock lasts for catalog changes only, whatever the size of the data. A rollback
restores every table.

Only tables whose every property is reproduced are swapped. A table is not eligible when it is
partitioned or inherited, unlogged or temporary, has table or index storage options or a
tablespace of its own, a replica identity other than the default, row security, triggers, rules,
policies, publication membership, extended statistics, security labels, column privileges,
comments on its constraints or indexes, or when any object other than a foreign key from a
table of the same run depends on it (a view, a function taking its row type, a foreign key from
another table). The login must be a member of the table's owner and may create in its schema.
When one table of a run is not eligible, the whole run publishes with `INSERT ... SELECT`
(Dialect.publish_from), as it does when a definition changed between the build and the
publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from masking.dialects import pgswap_sql as sql
from masking.dialects.postgresql_read import esc
from masking.errors import ValidationFailed
from masking.schema import TableInfo


def _version(d: Any) -> int:
    return int(d.connect().info.server_version)


def _eligible_sql(d: Any) -> str:
    recent = _version(d) >= 150000
    return sql.ELIGIBLE.format(**{k: v if recent else "" for k, v in sql.SINCE_15.items()})


def _signature_sql(d: Any) -> str:
    # column compression came with PostgreSQL 14
    return sql.SIGNATURE.format(compression="a.attcompression," if _version(d) >= 140000 else "")


_MATCH = {"f": " MATCH FULL", "s": "", "p": " MATCH PARTIAL"}
_ACTION = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


class _NotCopied(Exception):
    """A property of the table that the replacement would not reproduce exactly."""


@dataclass
class Replacement:
    """One target table and what stands ready to take its place."""

    table: TableInfo
    oid: int
    name: str  # the replacement, in the table's schema
    signature: str = ""
    keys: list[tuple[str, str]] = field(default_factory=list)  # (temporary, final) names
    indexes: list[tuple[str, str]] = field(default_factory=list)
    # identity sequences: (the replacement's, the name the target's has)
    identities: list[tuple[str, str]] = field(default_factory=list)
    # owned sequences (serial): (sequence, column, the value it goes on from)
    owned: list[tuple[str, str, int]] = field(default_factory=list)
    # foreign keys to tables outside the run, added at the publish: (name, columns, parent,
    # ADD CONSTRAINT clause)
    outside: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class Swap:
    """The replacements of a run, parents first; `reason` says why a run cannot swap."""

    tables: list[Replacement] = field(default_factory=list)
    reason: str = ""


def eligible(d: Any, tables: Sequence[TableInfo]) -> Swap:
    """Whether every table can be swapped (Swap.reason empty), checked in the catalog."""
    oids = {d._oid(t): t for t in tables}
    for oid, table in oids.items():
        why = d._rows(_eligible_sql(d), (oid,))[0][0]
        if why is None:
            row_type = d._rows(sql.ROW_TYPE, (oid,))[0][0]
            for kind, child in d._rows(sql.DEPENDENTS, (oid, row_type, oid)):
                if not (kind == "pg_constraint" and child in oids):
                    why = "other objects depend on it (a view, a function, a foreign key)"
                    break
        if why is not None:
            return Swap(reason=f"table '{table.schema}.{table.name}': {why}")
    return Swap()


_LIKE = (
    " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY"
    " INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING STATISTICS INCLUDING COMMENTS"
)


def copy_sql(d: Any, new: str, target: str) -> str:
    """A table like the target: what LIKE carries (keys, owner, privileges come later)."""
    like = _LIKE if _version(d) >= 140000 else _LIKE.replace(" INCLUDING COMPRESSION", "")
    return f"CREATE TABLE {new} (LIKE {target}{like})"


def signatures(d: Any, tables: Sequence[TableInfo]) -> list[str] | None:
    """When every table can be swapped: their definitions now, for a staging made as copies
    of them (checked again at the publish); else None."""
    if eligible(d, tables).reason:
        return None
    return [_signature(d, d._oid(t)) for t in tables]


def build(
    d: Any,
    tables: Sequence[TableInfo],
    stages: Sequence[TableInfo],
    columns: Sequence[Sequence[str]],
    copies: Sequence[str | None],
) -> Swap:
    """Build each replacement (parents first; outside the publish, in transactions of its
    own); returns the Swap, or one with a reason when a table is not eligible. `copies`: per
    table, the signature the target had when its staging table was made as a copy of it (the
    staging table then becomes the replacement), or None (the replacement is made now, named
    after the staging table, and filled from it)."""
    import psycopg  # the driver loads with the connection

    swap = eligible(d, tables)
    if swap.reason:
        return swap
    for table, stage, cols, copied in zip(tables, stages, columns, copies, strict=True):
        oid = d._oid(table)
        # before the copy: a later change is seen at publish
        signature = copied if copied is not None else _signature(d, oid)
        name = stage.name if copied is not None else f"{stage.name}_swap"
        try:
            with d.transaction():
                if copied is None:
                    _fill(d, table, stage, cols, name)
                swap.tables.append(_complete(d, table, oid, name))
        except _NotCopied as exc:  # the replacements left are staging, dropped with it
            return Swap(reason=f"table '{table.schema}.{table.name}': {exc}")
        except psycopg.errors.UniqueViolation as exc:
            key = _final_name(d, oid, name, exc.diag.constraint_name or "")
            raise ValidationFailed(
                f"{table.schema}.{table.name}",
                "",
                "",
                "unique",
                f"key '{key}' cannot be built: the staged rows repeat a value of it",
            ) from exc
        swap.tables[-1].signature = signature
    by_oid = {r.oid: r for r in swap.tables}
    with d.transaction():
        for r in swap.tables:
            _foreign_keys(d, r, by_oid)
    for r in swap.tables:
        d.execute(f"ANALYZE {d.qualified(r.table.schema, r.name)}")
    return swap


def _fill(d: Any, table: TableInfo, stage: TableInfo, cols: Sequence[str], name: str) -> None:
    new = d.qualified(table.schema, name)
    d.execute(f"DROP TABLE IF EXISTS {new}")  # a resumed run's earlier attempt
    d.execute(copy_sql(d, new, d.qualified(table.schema, table.name)))
    listed = ", ".join(d.quote(c) for c in cols)
    identity = any((c := table.column(n)) is not None and c.is_identity for n in cols)
    d.execute(
        f"INSERT INTO {new} ({listed}){' OVERRIDING SYSTEM VALUE' if identity else ''}"
        f" SELECT {listed} FROM {d.qualified(stage.schema, stage.name)}"
    )


def _complete(d: Any, table: TableInfo, oid: int, name: str) -> Replacement:
    """What LIKE leaves out: column settings, sequences, keys, indexes, owner, comment and
    privileges."""
    r = Replacement(table, oid, name)
    new = d.qualified(table.schema, name)
    for column, target_stats, options in d._rows(sql.COLUMN_SETTINGS, (oid,)):
        alter = f"ALTER TABLE {new} ALTER COLUMN {d.quote(column)}"
        if target_stats is not None:
            d.execute(f"{alter} SET STATISTICS {int(target_stats)}")
        if options:
            d.execute(f"{alter} SET ({options})")
    for column, kind, schema, sequence in d._rows(sql.SEQUENCES, (oid,)):
        nxt = f"coalesce(max({d.quote(column)}), 0) + 1"
        if kind == "i":  # the replacement's own sequence goes on after its rows
            mine = d._rows(
                f"SELECT pg_catalog.pg_get_serial_sequence(%s, %s), {esc(nxt)} FROM {esc(new)}",
                (new, column),
            )[0]
            d.execute(f"SELECT pg_catalog.setval('{_escape(mine[0])}'::regclass, {mine[1]}, false)")
            r.identities.append((mine[0], sequence))
        else:  # handed over, and moved on, under the publish's lock
            value = d._rows(f"SELECT {nxt} FROM {new}")[0][0]
            r.owned.append((f"{schema}.{sequence}", column, int(value)))
    for temp, key, definition in _keys_of(d, oid, name):
        d.execute(f"ALTER TABLE {new} ADD CONSTRAINT {d.quote(temp)} {definition}")
        r.keys.append((temp, key))
    for i, (index, shown, unique, definition, printed) in enumerate(d._rows(sql.INDEXES, (oid,))):
        head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {shown} ON {printed} USING "
        if not definition.startswith(head):
            raise _NotCopied(f"index '{index}' has a definition this swap cannot copy")
        temp = f"{name}_i{i}"  # a duplicate names it: the message gives the index's name
        d.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {d.quote(temp)} ON {new} USING "
            + definition[len(head) :]
        )
        r.indexes.append((temp, index))
    owner, comment = d._rows(sql.OWNER, (oid,))[0]
    d.execute(f"ALTER TABLE {new} OWNER TO {owner}")
    if comment is not None:
        literal = d._rows("SELECT pg_catalog.quote_literal(%s)", (comment,))[0][0]
        d.execute(f"COMMENT ON TABLE {new} IS {literal}")
    _copy_privileges(d, oid, new, d._oid(TableInfo(table.schema, name)))
    return r


def _keys_of(d: Any, oid: int, name: str = "") -> list[tuple[str, str, str]]:
    """(temporary name, name, definition) of the table's index-backed constraints."""
    return [(f"{name}_k{i}", key, de) for i, (key, de) in enumerate(d._rows(sql.KEYS, (oid,)))]


def _final_name(d: Any, oid: int, name: str, temp: str) -> str:
    """The target's name for the key or index built as `temp` on its replacement."""
    names = {t: key for t, key, _ in _keys_of(d, oid, name)}
    names.update({f"{name}_i{i}": row[0] for i, row in enumerate(d._rows(sql.INDEXES, (oid,)))})
    return names.get(temp, "")


def _copy_privileges(d: Any, oid: int, new: str, new_oid: int) -> None:
    """The target's privileges on the replacement; compared after, so that a default
    privilege the login's ALTER DEFAULT PRIVILEGES gave the new table is seen."""
    wanted = d._rows(sql.ACL, (oid,))
    for grantee, privilege, grantable in wanted:
        who = d._rows(sql.GRANTEE, (grantee, grantee))[0][0]
        option = " WITH GRANT OPTION" if grantable else ""
        d.execute(f"GRANT {privilege} ON {new} TO {who}{option}")
    have = {(g, p, o) for g, p, o in d._rows(sql.ACL, (new_oid,))}
    if have != {(g, p, o) for g, p, o in wanted}:
        raise _NotCopied("its privileges cannot be copied exactly")


def _foreign_keys(d: Any, r: Replacement, by_oid: dict[int, Replacement]) -> None:
    """The target's foreign keys to tables of the run, on the replacement, to the parent's
    replacement, checked as they are added. Those to tables outside the run wait for the
    publish (Replacement.outside): added now, their parent's deletes would already be checked
    against rows not yet published."""
    for row in d._rows(sql.FOREIGN_KEYS, (r.oid,)):
        name, parent_oid, cols, ref_cols, match, upd, dele, deferrable, deferred = row[:9]
        validated, parent_schema, parent_name = row[9:]
        parent = by_oid.get(parent_oid)
        ref = (
            d.qualified(parent.table.schema, parent.name)
            if parent is not None
            else d.qualified(parent_schema, parent_name)
        )
        clause = (
            f"ADD CONSTRAINT {d.quote(name)} FOREIGN KEY"
            f" ({', '.join(d.quote(c) for c in cols)}) REFERENCES {ref}"
            f" ({', '.join(d.quote(c) for c in ref_cols)}){_MATCH[match]}"
            f" ON UPDATE {_ACTION[upd]} ON DELETE {_ACTION[dele]}"
            + (" DEFERRABLE" if deferrable else "")
            + (" INITIALLY DEFERRED" if deferred else "")
            + ("" if validated else " NOT VALID")
        )
        fk = (name, ", ".join(cols), f"{parent_schema}.{parent_name}", clause)
        if parent is None:
            r.outside.append(fk)
        else:
            _add_foreign_key(d, r, d.qualified(r.table.schema, r.name), fk)


def _add_foreign_key(d: Any, r: Replacement, table: str, fk: tuple[str, str, str, str]) -> None:
    import psycopg

    name, cols, parent, clause = fk
    try:
        d.execute(f"ALTER TABLE {table} {clause}")
    except psycopg.errors.ForeignKeyViolation as exc:
        raise ValidationFailed(
            f"{r.table.schema}.{r.table.name}",
            cols,
            "",
            "foreign_key",
            f"foreign key '{name}': a staged row references no row of '{parent}'",
        ) from exc


def _signature(d: Any, oid: int) -> str:
    return str(d._rows(_signature_sql(d), (oid,))[0][0])


def swap_in(d: Any, swap: Swap) -> bool:
    """Inside the publish transaction: lock the targets, and when none changed since the
    replacements were built, put the replacements in their place. False (nothing changed)
    when a definition changed: the caller publishes with INSERT ... SELECT instead."""
    for r in swap.tables:
        d.execute(
            f"LOCK TABLE {d.qualified(r.table.schema, r.table.name)} IN ACCESS EXCLUSIVE MODE"
        )
    if any(_signature(d, r.oid) != r.signature for r in swap.tables):
        return False
    for r in swap.tables:
        for sequence, column, _ in r.owned:
            new = d.qualified(r.table.schema, r.name)
            d.execute(f"ALTER SEQUENCE {sequence} OWNED BY {new}.{d.quote(column)}")
    for r in reversed(swap.tables):  # children first: their foreign keys go with them
        d.execute(f"DROP TABLE {d.qualified(r.table.schema, r.table.name)}")
    for r in swap.tables:
        d.execute(
            f"ALTER TABLE {d.qualified(r.table.schema, r.name)} RENAME TO {d.quote(r.table.name)}"
        )
        final = d.qualified(r.table.schema, r.table.name)
        for temp, key in r.keys:
            d.execute(f"ALTER TABLE {final} RENAME CONSTRAINT {d.quote(temp)} TO {d.quote(key)}")
        for temp, index in r.indexes:
            d.execute(f"ALTER INDEX {d.qualified(r.table.schema, temp)} RENAME TO {d.quote(index)}")
        for sequence, name in r.identities:
            d.execute(f"ALTER SEQUENCE {sequence} RENAME TO {name}")
        for fk in r.outside:  # checked under the lock, against the parent as it is then
            _add_foreign_key(d, r, final, fk)
        for sequence, _, value in r.owned:
            d.execute(f"SELECT pg_catalog.setval('{_escape(sequence)}'::regclass, {value}, false)")
    return True


def _escape(name: str) -> str:
    """A (quoted) name inside a SQL string literal."""
    return name.replace("'", "''")
