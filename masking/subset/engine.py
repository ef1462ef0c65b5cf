"""The subset's closure, computed in the source database.

Every table of the plan that the foreign keys connect to a root gets two temporary key tables
on the source connection: K (every kept row) and D (rows reached downwards: roots and the
children followed from them). One round follows, for every foreign key child → parent among
the plan's tables, the parents of K(child) into K(parent), and, unless the relationship says
none, the children of D(parent) into D(child) and K(child). Rounds repeat until one adds no
key: the sets only grow and are finite, so cycles and self-references end. Children are
followed from downward rows only, so a parent kept for integrity does not pull in all of its
other children (the product of a customer's order does not bring every order of the product).

Tables the foreign keys do not connect to a root are copied whole."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from masking.dialects.base import Dialect
from masking.plan import TablePlan
from masking.rowfilter import RowFilterError, validate_row_filter
from masking.schema import ForeignKey, TableInfo
from masking.subset.spec import Subset
from masking.subset.sql import DIALECTS, HASH_SPACE, SubsetSQL

MAX_ROUNDS = 10_000  # a guard only: each round adds a key or ends the loop


@dataclass(frozen=True)
class SubsetCount:
    table: str  # the label the run reports (the target table)
    kept: int
    total: int
    in_subset: bool  # False: not connected to a root, copied whole


@dataclass(frozen=True)
class SubsetProblem:
    table: str
    rule: str
    message: str


@dataclass
class _Node:
    index: int
    label: str
    plan: TablePlan
    info: TableInfo
    kept: str = ""  # temporary table names
    down: str = ""
    scratch: str = ""
    edges_out: list[_Edge] = field(default_factory=list)


@dataclass
class _Edge:
    child: _Node
    parent: _Node
    fk: ForeignKey
    children: str  # all / none / limited
    limit: int | None


def sample_key(secret: bytes) -> str:
    """The hex key the sample hash uses: derived from the workflow secret, never the secret."""
    return hmac.new(bytes(secret), b"maskflow subset sample v1", hashlib.sha256).hexdigest()[:32]


def _key(schema: str, name: str, default_schema: str) -> tuple[str, str]:
    return ((schema or default_schema).lower(), name.lower())


class SubsetClosure:
    """Plan the closure over `tables` (label, table plan, source structure) and check it."""

    def __init__(
        self,
        subset: Subset,
        source: Dialect,
        tables: Sequence[tuple[str, TablePlan, TableInfo]],
        secret: bytes,
    ):
        self.subset, self.source = subset, source
        self.sql: SubsetSQL | None = DIALECTS.get(source.capabilities.sqlglot_dialect)
        self.key = sample_key(secret)
        sdef = source.capabilities.default_schema
        self.nodes = {
            _key(info.schema, info.name, sdef): _Node(i, label, tp, info)
            for i, (label, tp, info) in enumerate(tables)
        }
        self.problems: list[SubsetProblem] = []
        self.roots: list[tuple[_Node, str]] = []  # node, root condition SQL
        self._build_edges(sdef)
        self._check_roots(sdef)
        self.members = self._connected()
        for node in self.members:
            if not node.info.primary_key:
                self.problems.append(
                    SubsetProblem(node.label, "subset", "a table in the subset needs a primary key")
                )
        if self.sql is None and self.members:
            self.problems.append(
                SubsetProblem(
                    self.roots[0][0].label if self.roots else "",
                    "subset",
                    "subsetting is not available for this source database",
                )
            )

    def _build_edges(self, sdef: str) -> None:
        self.edges: list[_Edge] = []
        named = set()
        for child in self.nodes.values():
            for fk in child.info.foreign_keys:
                ref = _key(fk.ref_schema or child.info.schema, fk.ref_table, sdef)
                parent = self.nodes.get(ref)
                if parent is None:
                    continue
                rel = self.subset.policy(child.info.schema, child.info.name, fk.columns)
                if rel is not None:
                    named.add(id(rel))
                policy = rel.children if rel else self.subset.children
                edge = _Edge(child, parent, fk, policy, rel.limit if rel else self.subset.limit)
                self.edges.append(edge)
                child.edges_out.append(edge)
        for rel in self.subset.relationships:
            if id(rel) not in named:
                self.problems.append(
                    SubsetProblem(
                        rel.table,
                        "subset_relationship",
                        f"no foreign key ({', '.join(rel.columns)}) of table '{rel.table}' "
                        "references another table of the workflow",
                    )
                )

    def _check_roots(self, sdef: str) -> None:
        for root in self.subset.roots:
            node = self.nodes.get(_key(root.schema, root.table, sdef))
            if node is None:
                self.problems.append(
                    SubsetProblem(
                        root.table, "subset_root", "the subset starts from a table not in the plan"
                    )
                )
                continue
            conds = [c for c in (root.where, node.plan.row_filter) if c]
            rendered = []
            for cond in conds:
                try:
                    rendered.append(
                        validate_row_filter(
                            cond,
                            dialect=self.source.capabilities.sqlglot_dialect,
                            columns={c.name for c in node.info.columns},
                        )
                    )
                except RowFilterError as exc:
                    self.problems.append(SubsetProblem(node.label, "subset_root", str(exc)))
            self.roots.append((node, " AND ".join(f"({c})" for c in rendered)))

    def _connected(self) -> list[_Node]:
        linked: dict[int, set[int]] = {n.index: set() for n in self.nodes.values()}
        for e in self.edges:
            linked[e.child.index].add(e.parent.index)
            linked[e.parent.index].add(e.child.index)
        seen: set[int] = set()
        todo = [n.index for n, _ in self.roots]
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(linked[i] - seen)
        return [n for n in self.nodes.values() if n.index in seen]

    # --- running ------------------------------------------------------------------------------
    @contextmanager
    def computed(self) -> Iterator[dict[str, str]]:
        """Compute the closure; yield each member's read predicate by label. The key tables
        live on the source connection until the block ends, and reads must use it."""
        assert self.sql is not None and not self.problems
        if self.sql.prepare is not None:
            self.sql.prepare(self.source.connect())
        made: list[str] = []
        bound = self.source.session_bound
        self.source.session_bound = True
        try:
            for node in self.members:
                self._create(node, made)
            self._fill()
            yield {n.label: self._predicate(n) for n in self.members}
        finally:
            self.source.session_bound = bound
            for name in made:
                self._exec(self.sql.drop_temp.format(name=name))

    def counts(self) -> list[SubsetCount]:
        """Rows kept and in the source, per table (call inside `computed`)."""
        out = []
        member = {n.index for n in self.members}
        for node in self.nodes.values():
            total = self._scalar(f"SELECT COUNT(*) FROM {self._table(node)}")
            if node.index in member:
                kept = self._scalar(f"SELECT COUNT(*) FROM {node.kept}")
            else:
                kept = total
            out.append(SubsetCount(node.label, kept, total, node.index in member))
        return out

    def _q(self, name: str) -> str:
        return self.source.quote(name)

    def _table(self, node: _Node) -> str:
        return self.source.qualified(node.info.schema, node.info.name)

    def _cols(self, node: _Node, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + self._q(c) for c in node.info.primary_key)

    def _match(self, left: str, right: str, lcols: Sequence[str], rcols: Sequence[str]) -> str:
        return " AND ".join(
            f"{left}.{self._q(a)} = {right}.{self._q(b)}" for a, b in zip(lcols, rcols, strict=True)
        )

    def _create(self, node: _Node, made: list[str]) -> None:
        assert self.sql is not None
        empty = f"SELECT {self._cols(node, 't')} FROM {self._table(node)} t WHERE 1 = 0"
        for attr, suffix in (("kept", "k"), ("down", "d"), ("scratch", "s")):
            base = f"mf_subset_{node.index}_{suffix}"
            name = self.sql.temp_prefix + base
            self._exec(self.sql.drop_temp.format(name=name))
            self._exec(self.sql.create_temp.format(name=name, select=empty))
            made.append(name)
            setattr(node, attr, name)
            if suffix != "s":
                self._exec(f"CREATE UNIQUE INDEX {base}_ix ON {name} ({self._cols(node)})")

    def _fill(self) -> None:
        for node, cond in self.roots:
            self._add(node, node.down, self._root_select(node, cond))
            self._add(node, node.kept, f"SELECT {self._cols(node)} FROM {node.down}")
        for _ in range(MAX_ROUNDS):
            added = 0
            for edge in self.edges:
                added += self._follow(edge)
            if not added:
                return
        raise RuntimeError("the subset did not settle")  # unreachable: sets only grow

    def _root_select(self, node: _Node, cond: str) -> str:
        assert self.sql is not None
        root = next(r for r in self.subset.roots if self.nodes_match(r, node))
        conds = [cond] if cond else []
        pk = [f"t.{self._q(c)}" for c in node.info.primary_key]
        digest = self.sql.hash_expr(self.key, pk)
        if root.percent is not None and root.percent < 100:
            conds.append(f"{digest} < {int(root.percent * HASH_SPACE / 100)}")
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        select = f"SELECT {self._cols(node, 't')} FROM {self._table(node)} t{where}"
        if root.rows is not None:
            select = self.sql.first(select, f"{digest}, {', '.join(pk)}", int(root.rows))
            select = f"SELECT * FROM ({select}) r"
        return select

    def nodes_match(self, root: object, node: _Node) -> bool:
        sdef = self.source.capabilities.default_schema
        return _key(getattr(root, "schema", ""), getattr(root, "table", ""), sdef) == _key(
            node.info.schema, node.info.name, sdef
        )

    def _follow(self, edge: _Edge) -> int:
        child, parent, fk = edge.child, edge.parent, edge.fk
        if not child.kept or not parent.kept:
            return 0
        # Parents of every kept child row.
        ref = self._match("p", "c", fk.ref_columns, fk.columns)
        own = self._match("c", "k", child.info.primary_key, child.info.primary_key)
        added = self._add(
            parent,
            parent.kept,
            f"SELECT {self._cols(parent, 'p')} FROM {self._table(parent)} p WHERE EXISTS "
            f"(SELECT 1 FROM {self._table(child)} c JOIN {child.kept} k ON {own} WHERE {ref})",
        )
        if edge.children == "none":
            return added
        # Children of the parent rows reached downwards.
        pown = self._match("p", "d", parent.info.primary_key, parent.info.primary_key)
        exists = (
            f"EXISTS (SELECT 1 FROM {self._table(parent)} p JOIN {parent.down} d ON {pown} "
            f"WHERE {self._match('p', 'c', fk.ref_columns, fk.columns)})"
        )
        conds = [exists] + ([f"({child.plan.row_filter})"] if child.plan.row_filter else [])
        where = " AND ".join(conds)
        if edge.children == "limited":
            part = ", ".join(f"c.{self._q(col)}" for col in fk.columns)
            limit = int(edge.limit or 1)
            select = (
                f"SELECT {self._cols(child)} FROM (SELECT {self._cols(child, 'c')}, ROW_NUMBER() "
                f"OVER (PARTITION BY {part} ORDER BY {self._cols(child, 'c')}) AS mf_rank "
                f"FROM {self._table(child)} c WHERE {where}) r WHERE mf_rank <= {limit}"
            )
        else:
            select = f"SELECT {self._cols(child, 'c')} FROM {self._table(child)} c WHERE {where}"
        new = self._add(child, child.down, select)
        if new:
            self._add(child, child.kept, f"SELECT {self._cols(child)} FROM {child.down}")
        return added + new

    def _add(self, node: _Node, into: str, select: str) -> int:
        """Insert the keys `select` returns that `into` lacks; the number added."""
        assert self.sql is not None
        cols = self._cols(node)
        if self.sql.insert_ignore:
            self._exec(f"INSERT INTO {node.scratch} ({cols}) {select}")
            added = self._exec(
                f"INSERT IGNORE INTO {into} ({cols}) SELECT {cols} FROM {node.scratch}"
            )
            self._exec(f"DELETE FROM {node.scratch}")
            return added
        absent = self._match("x", "s", node.info.primary_key, node.info.primary_key)
        return self._exec(
            f"INSERT INTO {into} ({cols}) SELECT DISTINCT {self._cols(node, 's')} FROM "
            f"({select}) s WHERE NOT EXISTS (SELECT 1 FROM {into} x WHERE {absent})"
        )

    def _predicate(self, node: _Node) -> str:
        """The read's condition: the row's key is kept (the read names its table unaliased)."""
        assert self.sql is not None
        cols = self._cols(node)
        if len(node.info.primary_key) == 1 or self.sql.row_values:
            left = cols if len(node.info.primary_key) == 1 else f"({cols})"
            return f"{left} IN (SELECT {cols} FROM {node.kept})"
        match = self._match("k", self._table(node), node.info.primary_key, node.info.primary_key)
        return f"EXISTS (SELECT 1 FROM {node.kept} k WHERE {match})"

    def _exec(self, sql: str) -> int:
        cur = self.source.connect().cursor()
        try:
            cur.execute(sql)
            return max(cur.rowcount or 0, 0)
        finally:
            cur.close()

    def _scalar(self, sql: str) -> int:
        cur = self.source.connect().cursor()
        try:
            cur.execute(sql)
            return int(cur.fetchone()[0])
        finally:
            cur.close()


def closure_for(plan: object, source: Dialect, resolved: Sequence[object]) -> SubsetClosure | None:
    """The closure of `plan.subset` over resolved tables (masking.extract.ResolvedTable)."""
    subset = getattr(plan, "subset", None)
    if subset is None:
        return None
    return SubsetClosure(
        subset,
        source,
        [(rt.label, rt.plan, rt.source) for rt in resolved],  # type: ignore[attr-defined]
        plan.secret,  # type: ignore[attr-defined]
    )


def estimate(plan: object, source: Dialect) -> tuple[list[SubsetCount], list[SubsetProblem]]:
    """Rows the plan's subset keeps per table, computed on the source as a run would (the
    target is not needed), or the problems that stop it."""
    subset = getattr(plan, "subset", None)
    if subset is None:
        return [], []
    tables = []
    problems = []
    for tp in plan.tables:  # type: ignore[attr-defined]
        try:
            info = source.describe_table(
                tp.source_schema or source.capabilities.default_schema, tp.source_table
            )
        except Exception:  # noqa: BLE001 - named as a problem, never with driver text
            problems.append(SubsetProblem(tp.label, "source_table", "table not found"))
            continue
        tables.append((tp.label, tp, info))
    closure = SubsetClosure(subset, source, tables, plan.secret)  # type: ignore[attr-defined]
    problems.extend(closure.problems)
    if problems:
        return [], problems
    with closure.computed():
        return closure.counts(), []
