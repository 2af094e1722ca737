-- Discovery lists (trending, new and rising, top by a dimension's category): shared/discovery.py
-- says what they mean, services/aggregator/discovery.py computes them when a day completes.
--
-- `trend_days` keeps, for the last 56 complete days only, one narrow row per package-day with
-- downloads: its downloads without mirrors and how many of them CI made (`details.ci` true). It is
-- what trending sums (the earlier of its two 28-day windows is usually in compacted months, whose
-- blocks SQL cannot read). A day's rows are replaced whole when the day completes; days older
-- than 56 days before the last complete day are deleted when the lists are rebuilt.
-- `trend_days_done` lists the days whose rows are recorded: trending waits until all 56 are.
CREATE TABLE trend_days (
    day       date NOT NULL,
    package   text NOT NULL,
    downloads bigint NOT NULL,
    ci        bigint NOT NULL,
    PRIMARY KEY (day, package)
);
CREATE TABLE trend_days_done (day date PRIMARY KEY);

-- The lists as served: one row per list, its entries as JSON (at most 100), computed on `day`
-- (the last complete day). `dimension`, `category` and `by` are '' for trending and new.
CREATE TABLE discovery_lists (
    list      text NOT NULL CHECK (list IN ('trending', 'new', 'top')),
    dimension text NOT NULL DEFAULT '',
    category  text NOT NULL DEFAULT '',
    by        text NOT NULL DEFAULT '' CHECK (by IN ('', 'downloads', 'share')),
    position  integer NOT NULL DEFAULT 0,
    day       date NOT NULL,
    entries   jsonb NOT NULL,
    PRIMARY KEY (list, dimension, category, by)
);

-- On upgrade: the days still open (after every compacted month) are recorded now; the older ones
-- of the 56 are not, so trending starts once 56 days are recorded, as on a new installation.
WITH open_days AS (
    SELECT day FROM ingest_days
    WHERE day >= coalesce((SELECT (max(month) + interval '1 month')::date FROM downloads_months), '-infinity')
      AND day > coalesce((SELECT max(day) FROM ingest_days), 'infinity') - 56
), ci_true AS (
    SELECT id FROM categories WHERE dimension = 'ci' AND category = 'true'
), recorded AS (
    INSERT INTO trend_days (day, package, downloads, ci)
    SELECT d.day, d.package, d.without_mirrors,
           coalesce((SELECT sum(cell_downloads(x)) FROM unnest(d.details) AS x
                     WHERE cell_category(x) = (SELECT id FROM ci_true)), 0)
    FROM downloads_days d JOIN open_days o ON o.day = d.day
    WHERE d.without_mirrors > 0 AND d.package <> '__all__'
)
INSERT INTO trend_days_done (day) SELECT day FROM open_days;
