-- Drops the day-partitioned layout once the 0006 move has copied every row into `downloads`
-- (the runner applies this file only after that move reports done), and puts a view with the
-- old row shape in its place: one row per (day, package, dimension, category) with non-zero
-- downloads, as readers see them (days before the retention cutoff are hidden). Services read
-- the packed tables directly; the view is for operators and tests.

DROP TABLE daily_downloads;
DROP TABLE legacy_package_days;
DROP FUNCTION analyze_day_partitions(date);
DROP FUNCTION ensure_day_partitions(text, date, date);
DROP FUNCTION drop_day_partitions_before(text, date);
DROP FUNCTION day_partition_name(text, date);

CREATE VIEW daily_downloads AS
WITH rows AS (
    SELECT d.day, d.package, d.with_mirrors, d.without_mirrors, d.cells FROM downloads d
    UNION ALL
    SELECT a.day, '__all__', a.with_mirrors, a.without_mirrors, a.cells FROM downloads_all a
)
SELECT r.day, r.package, 'overall'::text AS dimension, o.category, o.downloads
FROM rows r
CROSS JOIN LATERAL (VALUES ('with_mirrors'::text, r.with_mirrors), ('without_mirrors'::text, r.without_mirrors))
    AS o (category, downloads)
WHERE o.downloads > 0 AND r.day >= visible_from('-infinity')
UNION ALL
SELECT r.day, r.package, c.dimension, c.category, cell_downloads(x.cell)
FROM rows r
CROSS JOIN LATERAL unnest(r.cells) AS x (cell)
JOIN categories c ON c.id = cell_category(x.cell)
WHERE r.day >= visible_from('-infinity');
