-- Grafana (PostgreSQL data source): saving the data source, the query
-- editor's schema/table/column pickers, and one time-series panel.
--
-- Sources (query text only):
-- * The health check: pgxpool Ping, which sends the empty statement
--   "-- ping" (pkg/tsdb/grafana-postgresql-datasource/pgx/
--   handler_checkhealth.go in grafana/grafana, via jackc/pgx pgconn).
-- * The editor's metadata queries: getVersion, getTimescaleDBVersion,
--   showSchemas, showTables() and showTables('public'), getSchema(table) in
--   public/app/plugins/datasource/grafana-postgresql-datasource/
--   postgresMetaQuery.ts of grafana/grafana; the same table and column
--   queries (older form) are in datafusion-contrib/datafusion-postgres
--   tests/grafana.rs.
-- * The panel query is the editor's default time-series query after
--   Grafana expands $__timeGroupAlias(opened_at, '1h') and
--   $__timeFilter(opened_at) as pkg/tsdb/grafana-postgresql-datasource/
--   macros_test.go shows.
-- Grafana sends every query with pgconn's Exec: the simple protocol.
-- Substitutions: getSchema's table argument -> 'incident' and
-- 'public.incident'.

-- @statement ping simple
-- ping

-- @statement version simple
SELECT current_setting('server_version_num')::int/100 as version

-- @statement timescaledb simple
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'

-- @statement schemas simple
SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name

-- @statement tables-in-public simple expect=tables
SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'public'
      ORDER BY 1

-- @statement tables-on-search-path simple expect=tables
SELECT
    CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1

-- @statement columns simple expect=columns
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('incident'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('incident'))[1]
          AND quote_ident(table_name) = (parse_ident('incident'))[2]
        ELSE quote_ident(table_name) = 'incident'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END

-- @statement columns-qualified simple expect=columns
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('public.incident'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('public.incident'))[1]
          AND quote_ident(table_name) = (parse_ident('public.incident'))[2]
        ELSE quote_ident(table_name) = 'public.incident'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END

-- @statement time-series-panel simple expect=rows
SELECT
  floor(extract(epoch from opened_at)/3600)*3600 AS "time",
  count(*) AS "incidents"
FROM incident
WHERE
  opened_at BETWEEN '2020-01-01T00:00:00Z' AND '2030-01-01T00:00:00Z'
GROUP BY 1
ORDER BY 1
