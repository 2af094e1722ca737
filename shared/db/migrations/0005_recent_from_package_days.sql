-- Aggregator: recent totals from package_days, and a debounced recent rebuild (services/aggregator).
--
-- package_days.without_mirrors: the package-day's overall/without_mirrors count (0 when it has
-- only with_mirrors), NULL when the package-day has no overall row. Recent totals are summed from
-- it: one narrow row per package-day instead of scanning ~20 rows of daily_downloads each.
ALTER TABLE package_days ADD COLUMN without_mirrors bigint;
UPDATE package_days p SET without_mirrors = o.w
FROM (
    SELECT day, package, coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors'), 0) AS w
    FROM daily_downloads
    WHERE dimension = 'overall' AND package <> '__all__'
    GROUP BY day, package
) o
WHERE p.day = o.day AND p.package = o.package;

-- One row: whether recent_downloads lags behind the complete days (a completion deferred its
-- rebuild during a burst of manifests) and which anchor it was last built on.
CREATE TABLE recent_state (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    anchor   date,
    stale    boolean NOT NULL DEFAULT false,
    built_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO recent_state (anchor, stale) SELECT max(day), false FROM ingest_days;
