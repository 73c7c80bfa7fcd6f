-- Tableau Desktop (PostgreSQL connector): the statements Tableau itself
-- writes. Its metadata calls go through the driver (pgjdbc
-- DatabaseMetaData in current releases, psqlODBC SQLTables/SQLColumns in
-- older ones), which the pgjdbc and psqlODBC tests drive for real.
--
-- Sources (query text only):
-- * show "lc_collate": Tableau 8.3/9.0 connecting, from its log in
--   treasure-data/prestogres issue #29.
-- * The data-source preview shape, SELECT "t"."c" AS "c" ... FROM
--   "schema"."t" "t" LIMIT 10000, from Tableau's error text in
--   kamu-data/kamu-cli issue #309.
-- * Tableau's cursors through psqlODBC (UseDeclareFetch): BEGIN; declare
--   "SQL_CUR..." cursor with hold for <query>; fetch 2048 in "SQL_CUR..." as
--   one simple-protocol request, from ildus/clickhouse_fdw issue #42; the
--   same declare with a LIMIT 1000 preview from crate/crate issue #10212
--   (Tableau 2020.2). The cursor is closed and the transaction ended when
--   the driver frees the statement.
-- Substitutions: the captures' tables -> "public"."incident" and its
-- columns.

-- @statement lc-collate simple
show "lc_collate"

-- @statement preview simple extended expect=rows
SELECT "incident"."number" AS "number",
  "incident"."priority" AS "priority",
  "incident"."opened_at" AS "opened_at",
  "incident"."short_description" AS "short_description"
FROM "public"."incident" "incident"
LIMIT 10000

-- @statement declare-fetch-filter-domain simple expect=rows
BEGIN;declare "SQL_CUR000001DB5D2F8590" cursor with hold for SELECT CAST("incident"."category" AS TEXT) AS "category"
        FROM "public"."incident" "incident"
        GROUP BY 1
        ORDER BY 1 ASC NULLS FIRST;fetch 2048 in "SQL_CUR000001DB5D2F8590"

-- @statement close-filter-domain simple
close "SQL_CUR000001DB5D2F8590";COMMIT

-- @statement declare-preview simple
declare "SQL_CUR0x7fd83880dc00" cursor with hold for SELECT "incident"."opened_at" AS "opened_at",
  "incident"."number" AS "number",
  "incident"."category" AS "category",
  "incident"."assigned_to" AS "assigned_to",
  "incident"."priority" AS "priority",
  "incident"."reassignment_count" AS "reassignment_count"
FROM "public"."incident" "incident"
LIMIT 1000

-- @statement fetch-preview simple expect=rows
fetch 2048 in "SQL_CUR0x7fd83880dc00"

-- @statement close-preview simple
close "SQL_CUR0x7fd83880dc00"
