"""The catalog queries of masking.dialects.pgswap (PostgreSQL publish by swap)."""

# Every property of a table the swap reproduces or refuses, in one row. None in a `why_not`
# column means eligible; otherwise the reason (no value of the table is ever read).
ELIGIBLE = """
SELECT
  CASE WHEN c.relkind <> 'r' OR c.relispartition THEN 'it is partitioned or a partition'
       WHEN c.relpersistence <> 'p' THEN 'it is unlogged or temporary'
       WHEN c.reloptions IS NOT NULL OR c.reltablespace <> 0
         THEN 'it has storage options or a tablespace of its own'
       WHEN c.relreplident <> 'd' THEN 'its replica identity is not the default'
       WHEN c.relrowsecurity OR c.relforcerowsecurity THEN 'it has row security'
       WHEN NOT pg_catalog.pg_has_role(c.relowner, 'MEMBER')
         THEN 'the login is not a member of its owner'
       WHEN NOT pg_catalog.has_schema_privilege(c.relnamespace, 'CREATE')
         THEN 'the login may not create in its schema'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                    WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) THEN 'it is inherited'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                    WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) THEN 'it has triggers'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid)
         THEN 'it has rules'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
         THEN 'it has policies'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel p WHERE p.prrelid = c.oid)
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication p WHERE p.puballtables)
         {schema_publications}
         THEN 'it is published for replication'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid = c.oid)
         THEN 'it has extended statistics'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_seclabel s WHERE s.objoid = c.oid)
         THEN 'it has security labels'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                      AND a.attacl IS NOT NULL)
         THEN 'it has column privileges'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s
                      ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid
                    WHERE d.refobjid = c.oid AND s.relkind = 'S' AND d.deptype = 'a'
                      AND d.refobjsubid = 0) THEN 'a sequence belongs to the whole table'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i
                      ON i.oid = x.indexrelid
                    WHERE x.indrelid = c.oid AND (i.reloptions IS NOT NULL
                      OR i.reltablespace <> 0 OR x.indisclustered OR NOT x.indisvalid))
         THEN 'an index has options, a tablespace, a CLUSTER mark or is invalid'
       WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_description d
                    WHERE d.objoid IN (SELECT x.indexrelid FROM pg_catalog.pg_index x
                                       WHERE x.indrelid = c.oid
                                       UNION ALL SELECT k.oid FROM pg_catalog.pg_constraint k
                                       WHERE k.conrelid = c.oid))
         THEN 'its constraints or indexes have comments'
       {partial_set}
  END
FROM pg_catalog.pg_class c WHERE c.oid = %s
"""
# The owner and comment a replacement takes over.
OWNER = """
SELECT c.relowner::regrole::text, pg_catalog.obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_class c WHERE c.oid = %s
"""
# PostgreSQL 15 added schema publications and ON DELETE SET NULL (columns).
SINCE_15 = {
    "schema_publications": "OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace p"
    " WHERE p.pnnspid = c.relnamespace)",
    "partial_set": "WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid ="
    " c.oid AND k.contype = 'f' AND k.confdelsetcols IS NOT NULL)"
    " THEN 'a foreign key sets only some columns on delete'",
}


# Objects that depend on the table (or its row type) and would stop a DROP: (kind, the
# constraint's table when it is a foreign key).
DEPENDENTS = """
SELECT d.classid::regclass::text, k.conrelid
FROM pg_catalog.pg_depend d
LEFT JOIN pg_catalog.pg_constraint k
  ON d.classid = 'pg_catalog.pg_constraint'::regclass AND k.oid = d.objid
WHERE d.deptype = 'n'
  AND ((d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = %s)
    OR (d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid = %s))
  AND NOT (k.oid IS NOT NULL AND k.conrelid = %s)
"""

ROW_TYPE = "SELECT c.reltype FROM pg_catalog.pg_class c WHERE c.oid = %s"

# Index-backed constraints (primary key, unique, exclusion) and the other indexes.
KEYS = """
SELECT k.conname, pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
WHERE k.conrelid = %s AND k.contype IN ('p', 'u', 'x') ORDER BY k.contype, k.conname
"""
INDEXES = """
SELECT i.relname, pg_catalog.quote_ident(i.relname), x.indisunique,
       pg_catalog.pg_get_indexdef(x.indexrelid),
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.relname)
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE x.indrelid = %s
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = x.indexrelid
                  AND k.conrelid = x.indrelid)
ORDER BY i.relname
"""
FOREIGN_KEYS = """
SELECT k.conname, k.confrelid,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
             ORDER BY u.o)::text[],
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
             ORDER BY u.o)::text[],
       k.confmatchtype, k.confupdtype, k.confdeltype, k.condeferrable, k.condeferred,
       k.convalidated, pn.nspname, p.relname
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class p ON p.oid = k.confrelid
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE k.conrelid = %s AND k.contype = 'f' ORDER BY k.conname
"""
# What the publish checks again under its lock: the definition the replacement copied.
SIGNATURE = """
SELECT pg_catalog.md5(concat_ws('|',
  c.relowner, c.relacl::text, c.relkind, c.relpersistence, c.reloptions::text,
  pg_catalog.obj_description(c.oid, 'pg_class'),
  (SELECT string_agg(concat_ws(':', a.attnum, a.attname, a.atttypid, a.atttypmod,
                               a.attnotnull, a.attgenerated, a.attidentity, a.attcollation,
                               a.attacl::text, a.attstorage, {compression}
                               a.attstattarget,
                               (SELECT string_agg(o, ',') FROM unnest(a.attoptions) o
                                WHERE o ~ '^n_distinct'),
                               pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                               pg_catalog.col_description(c.oid, a.attnum)), ',' ORDER BY a.attnum)
   FROM pg_catalog.pg_attribute a
   LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(concat_ws(':', k.conname, pg_catalog.pg_get_constraintdef(k.oid)), ','
                     ORDER BY k.conname)
   FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid),
  (SELECT string_agg(pg_catalog.pg_get_indexdef(x.indexrelid), ',' ORDER BY x.indexrelid)
   FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid),
  (SELECT count(*) FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid),
  (SELECT string_agg(concat_ws(':', d.classid, d.objid), ',' ORDER BY d.classid, d.objid)
   FROM pg_catalog.pg_depend d
   WHERE d.refobjid IN (c.oid, c.reltype) AND d.deptype = 'n')))
FROM pg_catalog.pg_class c WHERE c.oid = %s
"""
# Sequences of the table's columns: identity ('i', re-created with the replacement) and owned
# ones ('a', serial: handed over to the replacement's column).
SEQUENCES = """
SELECT a.attname, d.deptype, pg_catalog.quote_ident(n.nspname), pg_catalog.quote_ident(s.relname)
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_class s ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid
JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.refobjid = %s AND s.relkind = 'S' AND d.deptype IN ('i', 'a')
ORDER BY a.attnum
"""
# Column settings LIKE does not copy: statistics targets and the planner's n_distinct options
# (the only attribute options PostgreSQL defines; a build may keep private ones there).
COLUMN_SETTINGS = """
SELECT a.attname, CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
       (SELECT string_agg(o, ', ') FROM unnest(a.attoptions) o WHERE o ~ '^n_distinct')
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
ACL = """
SELECT a.grantee, a.privilege_type, a.is_grantable
FROM pg_catalog.pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s
ORDER BY 1, 2, 3
"""
GRANTEE = "SELECT CASE WHEN %s = 0 THEN 'PUBLIC' ELSE %s::regrole::text END"
