"""A plain-Python reading of the subset rules, as an independent oracle for the tests: loads
every key of a small database and computes which rows a subset keeps."""

from __future__ import annotations

from masking.dialects.base import Dialect
from masking.subset import Subset
from masking.subset.engine import sample_key
from masking.subset.sql import HASH_SPACE, sample_hash


def keys_of(dialect: Dialect, schema: str, table: str) -> tuple[list[str], list[tuple]]:
    info = dialect.describe_table(schema, table)
    cols = list(
        dict.fromkeys([*info.primary_key, *(c for fk in info.foreign_keys for c in fk.columns)])
    )
    rows = [
        tuple(r)
        for b in dialect.read_batches(info, cols, 10_000)
        for r in zip(*(b.column(c).to_pylist() for c in cols), strict=True)
    ]
    return cols, rows


def expected(
    dialect: Dialect, schema: str, tables: list[str], subset: Subset, secret: bytes
) -> dict[str, set[tuple]]:
    """Primary keys kept per table (lower-cased name)."""
    infos = {t.lower(): dialect.describe_table(schema, t) for t in tables}
    data = {}
    for name, info in infos.items():
        cols, rows = keys_of(dialect, schema, info.name)
        data[name] = [dict(zip(cols, r, strict=True)) for r in rows]
    pk = {n: tuple(i.primary_key) for n, i in infos.items()}
    key = sample_key(secret)
    kept = {n: set() for n in infos}
    down = {n: set() for n in infos}
    for root in subset.roots:
        n = root.table.lower()
        assert root.where is None
        ks = [tuple(r[c] for c in pk[n]) for r in data[n]]
        if root.percent is not None:
            ks = [k for k in ks if sample_hash(key, list(k)) < int(root.percent * HASH_SPACE / 100)]
        if root.rows is not None:
            ks = sorted(ks, key=lambda k: (sample_hash(key, list(k)), k))[: root.rows]
        down[n] |= set(ks)
        kept[n] |= set(ks)
    edges = [
        (c, fk) for c, i in infos.items() for fk in i.foreign_keys if fk.ref_table.lower() in infos
    ]
    by_ref: dict[tuple, dict[tuple, set[tuple]]] = {}
    for child, fk in edges:
        parent = fk.ref_table.lower()
        index: dict[tuple, set[tuple]] = {}
        for r in data[parent]:
            ref = tuple(r[c] for c in fk.ref_columns)
            index.setdefault(ref, set()).add(tuple(r[c] for c in pk[parent]))
        by_ref[(child, fk.name, fk.columns)] = index
    changed = True
    while changed:
        changed = False
        for child, fk in edges:
            parent = fk.ref_table.lower()
            for row in data[child]:
                ck = tuple(row[c] for c in pk[child])
                ref = tuple(row[c] for c in fk.columns)
                if None in ref:
                    continue
                pks = by_ref[(child, fk.name, fk.columns)].get(ref, set())
                if ck in kept[child] and not pks <= kept[parent]:
                    kept[parent] |= pks
                    changed = True
                rel = subset.policy(infos[child].schema, infos[child].name, fk.columns)
                policy = rel.children if rel else subset.children
                if policy == "all" and pks & down[parent] and ck not in down[child]:
                    down[child].add(ck)
                    kept[child].add(ck)
                    changed = True
    return kept


def actual(dialect: Dialect, schema: str, tables: list[str]) -> dict[str, set[tuple]]:
    out = {}
    for t in tables:
        info = dialect.describe_table(schema, t)
        cols = list(info.primary_key)
        out[t.lower()] = {
            tuple(r)
            for b in dialect.read_batches(info, cols, 10_000)
            for r in zip(*(b.column(c).to_pylist() for c in cols), strict=True)
        }
    return out


def orphans(dialect: Dialect, schema: str, tables: list[str]) -> dict[str, int]:
    """Rows of the target whose foreign key finds no parent, per FK, by a direct query."""
    out = {}
    q = dialect.quote
    for t in tables:
        info = dialect.describe_table(schema, t)
        for fk in info.foreign_keys:
            match = " AND ".join(
                f"p.{q(r)} = c.{q(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=True)
            )
            notnull = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in fk.columns)
            parent = dialect.qualified(fk.ref_schema or info.schema, fk.ref_table)
            sql = (
                f"SELECT COUNT(*) FROM {dialect.qualified(info.schema, info.name)} c "
                f"WHERE {notnull} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {match})"
            )
            cur = dialect.connect().cursor()
            cur.execute(sql)
            out[f"{t}.{','.join(fk.columns)}"] = cur.fetchone()[0]
            cur.close()
    return out
