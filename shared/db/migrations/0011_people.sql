-- Downloads by people: a third overall count beside with_mirrors and without_mirrors.
--
-- `people` counts the kept downloads that are not a mirror's, not from CI (details.ci true) and
-- come from an installer people run (the allowlist in shared/installers.py). It is a column of
-- the open package-days (`downloads_days`) and of `__all__`'s open days (`downloads_all`), like
-- the other two overall counts, and in a compacted month it is the category id 2 of the
-- `overall` block (shared/db/history.py): no change to `downloads_months`. Months compacted
-- before this migration, and package-days written from events of schema version 1 or 2, hold
-- no people (0).
--
-- A column with a constant default is a catalog change (no table rewrite): instant on a live
-- database.

ALTER TABLE downloads_days ADD COLUMN people bigint NOT NULL DEFAULT 0;
ALTER TABLE downloads_all ADD COLUMN people bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW daily_downloads AS
WITH rows AS (
    SELECT d.day, d.package, d.with_mirrors, d.without_mirrors, d.cells || d.details || d.versions AS cells,
           d.people
    FROM downloads_days d
    UNION ALL
    SELECT a.day, '__all__', a.with_mirrors, a.without_mirrors, a.cells || a.details, a.people FROM downloads_all a
)
SELECT r.day, r.package, 'overall'::text AS dimension, o.category, o.downloads
FROM rows r
CROSS JOIN LATERAL (VALUES ('with_mirrors'::text, r.with_mirrors), ('without_mirrors'::text, r.without_mirrors),
                           ('people'::text, r.people))
    AS o (category, downloads)
WHERE o.downloads > 0 AND r.day >= visible_from('-infinity')
UNION ALL
SELECT r.day, r.package, c.dimension, c.category, cell_downloads(x.cell)
FROM rows r
CROSS JOIN LATERAL unnest(r.cells) AS x (cell)
JOIN categories c ON c.id = cell_category(x.cell)
WHERE r.day >= visible_from('-infinity');

-- The month's downloads by people per package, beside day/week/month (services/aggregator/recent.py):
-- what the rank by people reads (shared/rank.py) through the (period, downloads) index.
ALTER TABLE recent_downloads DROP CONSTRAINT recent_downloads_period_check;
ALTER TABLE recent_downloads ADD CONSTRAINT recent_downloads_period_check
    CHECK (period IN ('day', 'week', 'month', 'people_month'));
