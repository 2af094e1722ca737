-- One UTC day of PyPI downloads, counted the pypistats.org way (contracts.md section 2), with the
-- dimensions beyond it: version, installer, country, file_type, ci, platform and abi.
-- BigQuery standard SQL; the raw source runs this same text on DuckDB (transpiled by sqlglot).
-- Parameters: @day DATE (the UTC day), @mirrors ARRAY<STRING> (installers that are mirrors),
-- @people ARRAY<STRING> (the installers people run: shared/installers.py PEOPLE_INSTALLERS).
-- Output: one row per non-zero (package, dimension, category, downloads), ordered by package,
-- where package is the PEP 503 normalised project name (spellings of one project are merged).
--
-- One scan of the day's partition: each kept download fans out into one (dimension, category)
-- cell per dimension, flagged by whether that dimension counts it, and one GROUP BY sums them.
-- Mirror downloads (and, by SQL's NULL logic, those with a NULL installer) count only in
-- with_mirrors and installer, so installer's categories add up to with_mirrors. The overall
-- category people counts downloads by people: not a mirror's, not from CI (details.ci not true),
-- and from an installer of @people (a NULL installer is not one).
-- platform and abi are a wheel's PEP 427 platform and ABI tags, cut out of file.filename
-- (PEP 427: name-version[-build]-python-abi-platform.whl) as they are: the SQL sources name
-- them readably per row (shared/platforms.py), so grouping by the raw tags keeps the output a
-- few rows per package. An sdist (file.type) is 'sdist' in both, a missing file name 'null',
-- any other file (an egg, an installer, a name without the five parts) 'other'.
WITH kept AS (
  SELECT
    REGEXP_REPLACE(LOWER(file.project), r'[-_.]+', '-') AS package,
    -- NULL for a NULL installer, so `NOT is_mirror` drops it like SQL's `NOT IN` does.
    details.installer.name IN UNNEST(@mirrors) AS is_mirror,
    COALESCE(
      details.installer.name IN UNNEST(@people) AND NOT details.installer.name IN UNNEST(@mirrors)
        AND NOT COALESCE(details.ci, FALSE),
      FALSE
    ) AS is_person,
    COALESCE(REGEXP_EXTRACT(details.python, r'^([0-9]+)\.'), 'null') AS python_major,
    COALESCE(REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)'), 'null') AS python_minor,
    CASE
      WHEN details.system.name IS NULL THEN 'null'
      WHEN details.system.name IN ('Windows', 'Linux', 'Darwin') THEN details.system.name
      ELSE 'other'
    END AS system_name,
    COALESCE(file.version, 'null') AS version,
    COALESCE(details.installer.name, 'null') AS installer,
    COALESCE(country_code, 'null') AS country,
    COALESCE(file.type, 'null') AS file_type,
    CASE WHEN details.ci THEN 'true' WHEN NOT details.ci THEN 'false' ELSE 'null' END AS ci,
    CASE
      WHEN file.type = 'sdist' THEN 'sdist'
      WHEN file.filename IS NULL THEN 'null'
      ELSE COALESCE(REGEXP_EXTRACT(file.filename, r'^[^-]+-[^-]+(?:-[^-]+)?-[^-]+-[^-]+-([^-]+)\.whl$'), 'other')
    END AS platform,
    CASE
      WHEN file.type = 'sdist' THEN 'sdist'
      WHEN file.filename IS NULL THEN 'null'
      ELSE COALESCE(REGEXP_EXTRACT(file.filename, r'^[^-]+-[^-]+(?:-[^-]+)?-[^-]+-([^-]+)-[^-]+\.whl$'), 'other')
    END AS abi
  FROM `bigquery-public-data.pypi.file_downloads`
  WHERE timestamp >= TIMESTAMP(@day)
    AND timestamp < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
    AND (details.python IS NULL OR REGEXP_CONTAINS(details.python, r'^[0-9]\.[0-9]+.*$'))
)
SELECT package, cell.dimension AS dimension, cell.category AS category, COUNT(*) AS downloads
FROM kept, UNNEST([
  STRUCT('overall' AS dimension, 'with_mirrors' AS category, TRUE AS counted),
  STRUCT('overall' AS dimension, 'without_mirrors' AS category, NOT is_mirror AS counted),
  STRUCT('overall' AS dimension, 'people' AS category, is_person AS counted),
  STRUCT('python_major' AS dimension, python_major AS category, NOT is_mirror AS counted),
  STRUCT('python_minor' AS dimension, python_minor AS category, NOT is_mirror AS counted),
  STRUCT('system' AS dimension, system_name AS category, NOT is_mirror AS counted),
  STRUCT('version' AS dimension, version AS category, NOT is_mirror AS counted),
  STRUCT('installer' AS dimension, installer AS category, TRUE AS counted),
  STRUCT('country' AS dimension, country AS category, NOT is_mirror AS counted),
  STRUCT('file_type' AS dimension, file_type AS category, NOT is_mirror AS counted),
  STRUCT('ci' AS dimension, ci AS category, NOT is_mirror AS counted),
  STRUCT('platform' AS dimension, platform AS category, NOT is_mirror AS counted),
  STRUCT('abi' AS dimension, abi AS category, NOT is_mirror AS counted)
]) AS cell
WHERE cell.counted
GROUP BY package, dimension, category
ORDER BY package, dimension, category
