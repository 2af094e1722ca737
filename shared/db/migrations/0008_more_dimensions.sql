-- Five more dimensions (version, installer, country, file_type, ci) in the packed layout.
--
-- Their cells go in two new arrays beside `cells` (shared/db/layout.py COLUMN_OF): `details`
-- (installer, country, file_type, ci: a few to a few hundred cells) and `versions` (up to
-- thousands a day for the busiest packages). A read of one dimension fetches only its own array:
-- `/python_minor` does not decode countries, and a large `versions` array is compressed and kept
-- out of line by PostgreSQL, read only by version readers. `__all__` has no versions (versions of
-- different packages are unrelated).
--
-- Adding a column with a constant default is a catalog change in PostgreSQL 11 and later: no
-- table rewrite, so this is instant on a live database. Package-days written before it read as
-- having none of the new dimensions.

ALTER TABLE downloads
    ADD COLUMN details  bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN versions bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE downloads_all
    ADD COLUMN details  bigint[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE VIEW daily_downloads AS
WITH rows AS (
    SELECT d.day, d.package, d.with_mirrors, d.without_mirrors, d.cells || d.details || d.versions AS cells
    FROM downloads d
    UNION ALL
    SELECT a.day, '__all__', a.with_mirrors, a.without_mirrors, a.cells || a.details FROM downloads_all a
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
