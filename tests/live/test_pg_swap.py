"""A truncate-mode staged run into PostgreSQL publishes by swapping in tables built beside the
targets: the data equals a run in one transaction, every property of the tables is kept, the
lock lasts for catalog changes only, and whatever is not reproducible falls back to
INSERT ... SELECT."""

from __future__ import annotations

import uuid

import pytest

from masking import ColumnRule, Plan, TablePlan
from masking.dialects import get_dialect
from masking.errors import MaskingError
from masking.pipeline import run
from masking.progress import NullProgress
from masking.staged import SnapshotHolder, finish, prepare, run_staged, run_unit
from tests.live import staged_schema as S

pytestmark = pytest.mark.live

SWAPPED = "staged, swapped in"

# Everything a DBA may have put on the target tables that a swap has to carry over.
EXTRAS = [
    "COMMENT ON TABLE customers IS 'people who buy; 100% masked'",
    "COMMENT ON COLUMN customers.city IS 'where they live'",
    "ALTER TABLE customers ALTER COLUMN city SET DEFAULT 'Unknown'",
    "ALTER TABLE customers ADD CONSTRAINT customers_city_check CHECK (city <> '')",
    "CREATE INDEX customers_city_idx ON customers (city) WHERE city IS NOT NULL",
    "CREATE UNIQUE INDEX orders_note_key ON orders (note, id)",
    "ALTER TABLE items ALTER COLUMN sku SET STATISTICS 500",
    "ALTER TABLE orders ALTER COLUMN note SET (n_distinct = 100)",
]

DEFINITION = """
SELECT
  (SELECT string_agg(concat_ws(':', a.attname, format_type(a.atttypid, a.atttypmod),
                               a.attnotnull, a.attidentity, a.attgenerated, a.attstattarget,
                               (SELECT string_agg(o, ',') FROM unnest(a.attoptions) o
                                WHERE o ~ '^n_distinct'),
                               pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum),
                               pg_get_serial_sequence(c.oid::regclass::text, a.attname)),
                     ', ' ORDER BY a.attnum)
   FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(conname || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY conname)
   FROM pg_constraint k WHERE k.conrelid = c.oid),
  (SELECT string_agg(pg_get_indexdef(x.indexrelid), ', ' ORDER BY 1)
   FROM pg_index x WHERE x.indrelid = c.oid),
  c.relowner::regrole::text, c.relacl::text, obj_description(c.oid, 'pg_class'),
  c.relpersistence,
  -- dropped columns included: a swapped-in table carries none of the staging's own
  (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0)
FROM pg_class c WHERE c.oid = %s::regclass
"""


def _one_table(table: str, rules: tuple[ColumnRule, ...] = ()) -> Plan:
    """A plan for one table of `public`, unmapped columns copied."""
    plan = TablePlan("public", table, "public", table, rules, copy_unmapped=True)
    return Plan(tables=(plan,), secret=S.SECRET, key_version="s1")


def definitions(pg) -> dict[str, tuple]:
    return {t: tuple(pg._rows(DEFINITION, (f"public.{t}",))[0]) for t in S.TABLES}


@pytest.fixture
def role():
    """A role of this test's own (roles belong to the whole server). Ask for it before the
    databases, so that it is dropped after them."""
    import psycopg

    from tests import services

    name = f"mf_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name}")
    yield name
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {name}")
        admin.execute(f"DROP ROLE {name}")


def _databases(pg_db_factory, role, *, seed_target=False):
    src = get_dialect(pg_db_factory())
    S.create(src, seed=True)
    targets = []
    for _ in range(2):
        tgt = get_dialect(pg_db_factory())
        S.create(tgt, seed=seed_target)
        for stmt in EXTRAS:
            tgt.execute(stmt)
        tgt.execute(f"GRANT SELECT, INSERT ON customers, items TO {role}")
        targets.append(tgt)
    return src, targets


def test_swap_keeps_every_property_and_equals_a_run_in_one_transaction(role, pg_db_factory):
    src, (swapped, plain) = _databases(pg_db_factory, role, seed_target=True)
    before = definitions(swapped)
    plan = S.plan("public", "public")
    expected = run(plan, src, plain)
    result = run_staged(plan, src, swapped, "swap", unit_rows=1_500)

    assert {t.load_path for t in result.tables} == {SWAPPED}
    assert S.checksums(swapped) == S.checksums(plain)
    assert result.rows_processed == expected.rows_processed == sum(S.SIZES.values())
    assert definitions(swapped) == before  # names, keys, indexes, grants, comments, identity
    assert S.staging_left(swapped) == []
    # The target was locked for the catalog changes only.
    assert result.lock_seconds < 0.3 * result.duration
    # The identity goes on after the loaded rows, from the sequence of the same name.
    swapped.execute("INSERT INTO items (order_id, sku) VALUES (1, 'new')")
    top = swapped._rows("SELECT max(id) FROM items WHERE sku <> 'new'")[0][0]
    assert swapped._rows("SELECT id FROM items WHERE sku = 'new'")[0][0] == top + 1
    # The foreign keys are enforced on the swapped tables.
    with pytest.raises(Exception, match="foreign key"):
        swapped.execute("INSERT INTO orders (id, customer_id) VALUES (-1, -1)")


def test_a_view_on_a_table_keeps_insert_select(role, pg_db_factory):
    src, (tgt, _) = _databases(pg_db_factory, role)
    tgt.execute("CREATE VIEW big_orders AS SELECT id FROM orders WHERE amount > 100")
    result = run_staged(S.plan("public", "public"), src, tgt, "view", unit_rows=1_500)
    paths = {t.load_path for t in result.tables}
    assert len(paths) == 1
    (path,) = paths
    assert path.startswith("staged, INSERT … SELECT (no swap: table 'public.orders':")
    assert "other objects depend on it" in path
    assert tgt._rows("SELECT count(*) FROM big_orders")[0][0] > 0
    assert S.checksums(tgt)["orders"][0] == S.SIZES["orders"]
    assert S.staging_left(tgt) == []


def test_a_trigger_keeps_insert_select(role, pg_db_factory):
    src, (tgt, _) = _databases(pg_db_factory, role)
    tgt.execute(
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    )
    tgt.execute("CREATE TRIGGER t BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION touch()")
    result = run_staged(S.plan("public", "public"), src, tgt, "trig", unit_rows=10**6)
    assert {t.load_path for t in result.tables} == {
        "staged, INSERT … SELECT (no swap: table 'public.payments': it has triggers)"
    }
    assert tgt._rows("SELECT count(*) FROM pg_trigger WHERE tgname = 't'")[0][0] == 1


def test_a_table_changed_during_the_run_is_published_into_not_replaced(role, pg_db_factory):
    src, (tgt, _) = _databases(pg_db_factory, role)
    other = get_dialect(tgt.params)
    built = tgt.prepare_swap

    def build_then_change(*args):  # a DBA adds a column while the run is building
        swap = built(*args)
        other.execute("ALTER TABLE payments ADD COLUMN checked boolean DEFAULT false")
        return swap

    tgt.prepare_swap = build_then_change  # type: ignore[method-assign]
    result = run_staged(S.plan("public", "public"), src, tgt, "chg", unit_rows=10**6)
    assert {t.load_path for t in result.tables} == {
        "staged, INSERT … SELECT (no swap: a table changed during the run)"
    }
    assert (
        tgt._rows("SELECT count(*) FROM payments WHERE NOT checked")[0][0] == (S.SIZES["payments"])
    )
    assert S.staging_left(tgt) == []
    other.close()


class _FailAtCommit(NullProgress):
    def before_commit(self) -> None:
        raise RuntimeError("the app database went away")


def test_a_failure_after_the_swap_restores_every_table(role, pg_db_factory):
    src, (tgt, _) = _databases(pg_db_factory, role, seed_target=True)
    tgt.execute("UPDATE customers SET city = 'Before'")
    data, before = S.checksums(tgt), definitions(tgt)
    plan = S.plan("public", "public")
    holder = SnapshotHolder(src)
    try:
        layout = prepare(plan, src, tgt, "fail", unit_rows=1_500, snapshot=holder)
        for unit in layout.units:
            run_unit(plan, layout, unit.index, src, tgt)
        with pytest.raises(RuntimeError, match="went away"):
            finish(plan, layout, src, tgt, progress=_FailAtCommit())
    finally:
        holder.close()
    assert S.checksums(tgt) == data
    assert definitions(tgt) == before
    assert S.staging_left(tgt) == []


def test_a_serial_column_keeps_its_sequence(pg_db_factory):
    src, tgt = get_dialect(pg_db_factory()), get_dialect(pg_db_factory())
    for d in (src, tgt):
        d.execute("CREATE TABLE tags (id serial PRIMARY KEY, label text NOT NULL)")
    src.execute("INSERT INTO tags (label) SELECT 'tag ' || g FROM generate_series(1, 500) g")
    tgt.execute("INSERT INTO tags (label) SELECT 'old ' || g FROM generate_series(1, 900) g")
    rules = (ColumnRule("label", "label", "keep"),)
    plan = _one_table("tags", rules)
    result = run_staged(plan, src, tgt, "serial", unit_rows=100)
    assert {t.load_path for t in result.tables} == {SWAPPED}
    assert tgt._rows("SELECT count(*), max(id) FROM tags")[0] == (500, 500)
    assert tgt._rows("SELECT pg_get_serial_sequence('tags', 'id')")[0][0] == "public.tags_id_seq"
    tgt.execute("INSERT INTO tags (label) VALUES ('next')")
    assert tgt._rows("SELECT id FROM tags WHERE label = 'next'")[0][0] == 501
    # The sequence belongs to the new table: dropping it takes the sequence along.
    tgt.execute("DROP TABLE tags")
    assert tgt._rows("SELECT to_regclass('public.tags_id_seq')")[0][0] is None


def test_a_repeated_key_value_fails_the_run_and_leaves_the_target(pg_db_factory):
    """The source repeats a value the target declares unique: building the replacement's key
    finds it, the run fails as `unique`, and nothing of the target changed."""
    from masking.errors import ValidationFailed

    src, tgt = get_dialect(pg_db_factory()), get_dialect(pg_db_factory())
    src.execute("CREATE TABLE codes (id integer PRIMARY KEY, code text)")
    tgt.execute("CREATE TABLE codes (id integer PRIMARY KEY, code text UNIQUE)")
    src.execute("INSERT INTO codes SELECT g, 'C' || (g % 400) FROM generate_series(1, 1000) g")
    tgt.execute("INSERT INTO codes VALUES (1, 'kept')")
    rules = (ColumnRule("code", "code", "keep"),)
    plan = _one_table("codes", rules)
    with pytest.raises(ValidationFailed) as info:
        run_staged(plan, src, tgt, "dup", unit_rows=300)
    assert info.value.rule == "unique"
    assert "key 'codes_code_key' cannot be built" in str(info.value)
    assert tgt._rows("SELECT id, code FROM codes")[0] == (1, "kept")
    assert tgt._rows("SELECT count(*) FROM codes")[0][0] == 1
    assert S.staging_left(tgt) == []


def _people(pg_db_factory):  # type: ignore[no-untyped-def]
    """`people` in the run; `countries`, their parent, only in the target."""
    src, tgt = get_dialect(pg_db_factory()), get_dialect(pg_db_factory())
    src.execute("CREATE TABLE people (id integer PRIMARY KEY, country_id integer)")
    src.execute("INSERT INTO people SELECT g, 1 + g % 5 FROM generate_series(1, 2000) g")
    tgt.execute("CREATE TABLE countries (id integer PRIMARY KEY)")
    tgt.execute("INSERT INTO countries SELECT generate_series(1, 5)")
    tgt.execute(
        "CREATE TABLE people (id integer PRIMARY KEY,"
        " country_id integer CONSTRAINT people_country REFERENCES countries (id))"
    )
    plan = _one_table("people")
    return src, tgt, plan


FK = "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'people_country'"


def test_a_parent_outside_the_run_gets_its_foreign_key_at_the_publish(pg_db_factory):
    src, tgt, plan = _people(pg_db_factory)
    other = get_dialect(tgt.params)
    built = tgt.prepare_swap

    def build_then_delete(*args):  # meanwhile the application deletes a country
        swap = built(*args)
        other.execute("DELETE FROM countries WHERE id = 5")  # not blocked by staged rows
        return swap

    tgt.prepare_swap = build_then_delete  # type: ignore[method-assign]
    with pytest.raises(MaskingError) as info:
        run_staged(plan, src, tgt, "outside", unit_rows=500)
    assert info.value.rule == "foreign_key"  # type: ignore[attr-defined]
    assert "people_country" in str(info.value) and "public.countries" in str(info.value)
    assert tgt._rows("SELECT count(*) FROM people")[0][0] == 0
    assert tgt._rows(FK)[0][0] == "FOREIGN KEY (country_id) REFERENCES countries(id)"
    assert S.staging_left(tgt) == []
    other.close()

    tgt.prepare_swap = built  # type: ignore[method-assign]
    tgt.execute("INSERT INTO countries VALUES (5)")
    result = run_staged(plan, src, tgt, "outside2", unit_rows=500)
    assert {t.load_path for t in result.tables} == {SWAPPED}
    assert tgt._rows("SELECT count(*) FROM people")[0][0] == 2000
    assert tgt._rows(FK)[0][0] == "FOREIGN KEY (country_id) REFERENCES countries(id)"
    with pytest.raises(Exception, match="foreign key"):
        tgt.execute("DELETE FROM countries WHERE id = 1")


def test_privileges_the_target_lacks_keep_insert_select(role, pg_db_factory):
    """The login's default privileges would give the replacement a grant the target does not
    have: that cannot be reproduced exactly, so the run publishes into the table."""
    src, tgt, plan = _people(pg_db_factory)
    src.execute("UPDATE people SET country_id = 1")
    tgt.execute(f"ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role}")
    result = run_staged(plan, src, tgt, "acl", unit_rows=10**6)
    assert {t.load_path for t in result.tables} == {
        "staged, INSERT … SELECT (no swap: table 'public.people': its privileges cannot be"
        " copied exactly)"
    }
    acl = "SELECT relacl IS NULL FROM pg_class WHERE relname = 'people'"
    assert tgt._rows(acl)[0][0] is True
