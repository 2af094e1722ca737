-- One UTC day of PyPI downloads, counted the pypistats.org way (contracts.md section 2).
-- BigQuery standard SQL; the raw source runs this same text on DuckDB (transpiled by sqlglot).
-- Parameters: @day DATE (the UTC day), @mirrors ARRAY<STRING> (installers that are mirrors).
-- Output: one row per non-zero (package, dimension, category, downloads), ordered by package,
-- where package is the PEP 503 normalised project name (spellings of one project are merged).
WITH kept AS (
  SELECT
    REGEXP_REPLACE(LOWER(file.project), r'[-_.]+', '-') AS package,
    -- NULL for a NULL installer, so `NOT is_mirror` drops it like SQL's `NOT IN` does.
    details.installer.name IN UNNEST(@mirrors) AS is_mirror,
    COALESCE(REGEXP_EXTRACT(details.python, r'^([0-9]+)\.'), 'null') AS python_major,
    COALESCE(REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)'), 'null') AS python_minor,
    CASE
      WHEN details.system.name IS NULL THEN 'null'
      WHEN details.system.name IN ('Windows', 'Linux', 'Darwin') THEN details.system.name
      ELSE 'other'
    END AS system_name
  FROM `bigquery-public-data.pypi.file_downloads`
  WHERE timestamp >= TIMESTAMP(@day)
    AND timestamp < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
    AND (details.python IS NULL OR REGEXP_CONTAINS(details.python, r'^[0-9]\.[0-9]+.*$'))
),
grouped AS (
  SELECT package, is_mirror, python_major, python_minor, system_name, COUNT(*) AS n
  FROM kept
  GROUP BY package, is_mirror, python_major, python_minor, system_name
)
SELECT package, dimension, category, downloads FROM (
  SELECT package, 'overall' AS dimension, 'with_mirrors' AS category, SUM(n) AS downloads
  FROM grouped GROUP BY package
  UNION ALL
  SELECT package, 'overall' AS dimension, 'without_mirrors' AS category, SUM(n) AS downloads
  FROM grouped WHERE NOT is_mirror GROUP BY package
  UNION ALL
  SELECT package, 'python_major' AS dimension, python_major AS category, SUM(n) AS downloads
  FROM grouped WHERE NOT is_mirror GROUP BY package, python_major
  UNION ALL
  SELECT package, 'python_minor' AS dimension, python_minor AS category, SUM(n) AS downloads
  FROM grouped WHERE NOT is_mirror GROUP BY package, python_minor
  UNION ALL
  SELECT package, 'system' AS dimension, system_name AS category, SUM(n) AS downloads
  FROM grouped WHERE NOT is_mirror GROUP BY package, system_name
)
ORDER BY package, dimension, category
