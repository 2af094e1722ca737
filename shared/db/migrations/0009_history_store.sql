-- The history store: open days as package-day rows, closed months compacted, years as partitions.
--
-- Why (docs/architecture.md): the month-partitioned `downloads` cost ~700 B per package-day with
-- every dimension and one index scan per month, so ten years would be ~700 GB for PyPI and ~120
-- scans for one package. Here:
--
-- * `downloads_days` holds the days still open (the last 30 to 61 days, and late re-ingests of
--   older days until they are compacted), one packed row per package-day exactly as before, in
--   one table: one index lookup for every open day of a package.
-- * `downloads_months` holds closed months, one row per package and month: per array group a
--   block of daily counts (categories x days, byte-shuffled and deflated; shared/db/history.py),
--   ~70 B per package-day. It is partitioned by year: a package's whole history is one index
--   lookup per year kept.
-- * `__all__` is compacted the same way (package '__all__', which no normalised name can be);
--   its open days stay in `downloads_all`.
--
-- A row of `downloads_days` replaces its day in `downloads_months` as a whole (a late re-ingest,
-- or an empty row, a tombstone, that removes a package from a compacted day): readers merge
-- both, and compaction folds the open rows in.
--
-- The in-place upgrade (shared/db/upgrade.py, version 9) moves the rows of `downloads` into the
-- new tables in batches. `downloads` stays readable meanwhile, so readers of the previous release
-- keep answering; writes to it are refused from now on, so an aggregator of the previous release
-- fails and naks (losing nothing) instead of writing behind the move. Migration 0010 drops it.

CREATE FUNCTION refuse_moved_writes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'downloads has moved to downloads_days and downloads_months (migration 0009): upgrade this service'
        USING ERRCODE = 'read_only_sql_transaction';
END $$;
CREATE TRIGGER downloads_moved BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON downloads
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_moved_writes();

-- Column order is storage order, as in `downloads`.
CREATE TABLE downloads_days (
    seq              bigint   NOT NULL,
    with_mirrors     bigint   NOT NULL CHECK (with_mirrors >= 0),
    without_mirrors  bigint   NOT NULL CHECK (without_mirrors >= 0),
    day              date     NOT NULL,
    run              integer  NOT NULL,
    package          text     NOT NULL,
    cells            bigint[] NOT NULL,
    details          bigint[] NOT NULL DEFAULT '{}',
    versions         bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (package, day) INCLUDE (with_mirrors, without_mirrors)
);
-- Completion counts a run's package-days of one day; compaction finds the open days by it.
CREATE INDEX downloads_days_day_run ON downloads_days (day, run);

CREATE TABLE downloads_months (
    month            date     NOT NULL CHECK (extract(day FROM month) = 1),
    with_mirrors     bigint   NOT NULL CHECK (with_mirrors >= 0),
    without_mirrors  bigint   NOT NULL CHECK (without_mirrors >= 0),
    days             integer  NOT NULL,   -- bit d-1 set: day d of the month holds a package-day
    package          text     NOT NULL,
    overall          bytea    NOT NULL,   -- blocks: shared/db/history.py
    cells            bytea    NOT NULL,
    details          bytea    NOT NULL,
    versions         bytea    NOT NULL,
    PRIMARY KEY (package, month)
) PARTITION BY RANGE (month);
-- A day's completion asks whether its month is compacted, and which packages it holds that day
-- (complete.TOMBSTONES): an index probe for a month that is still open (~1 B per package-day).
CREATE INDEX downloads_months_month ON downloads_months (month);
-- Blocks are deflated already: stored as they are, moved out of line (TOAST) only when a row
-- outgrows a page's quarter, so a large versions block is fetched only by version readers.
ALTER TABLE downloads_months
    ALTER COLUMN overall SET STORAGE EXTERNAL,
    ALTER COLUMN cells SET STORAGE EXTERNAL,
    ALTER COLUMN details SET STORAGE EXTERNAL,
    ALTER COLUMN versions SET STORAGE EXTERNAL;

-- The first day of d's month (infinite dates as they are): the lower bound of a compacted read.
CREATE FUNCTION first_of_month(d date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN isfinite(d) THEN d - (extract(day FROM d)::integer - 1) ELSE d END $$;

CREATE FUNCTION year_partition_name(parent text, d date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT parent || '_y' || to_char(d, 'YYYY') $$;

CREATE FUNCTION ensure_year_partitions(parent text, first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    y date := date_trunc('year', first_day)::date;
    created integer := 0;
    name text;
BEGIN
    WHILE y <= last_day LOOP
        name := year_partition_name(parent, y);
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           name, parent, y, (y + interval '1 year')::date);
            EXECUTE format('ALTER TABLE %I ALTER COLUMN overall SET STORAGE EXTERNAL, '
                           'ALTER COLUMN cells SET STORAGE EXTERNAL, ALTER COLUMN details SET STORAGE EXTERNAL, '
                           'ALTER COLUMN versions SET STORAGE EXTERNAL', name);
            created := created + 1;
        END IF;
        y := (y + interval '1 year')::date;
    END LOOP;
    RETURN created;
END $$;

-- Drops the year partitions whose every day is before `cutoff` (retention: whole years).
CREATE FUNCTION drop_year_partitions_before(parent text, cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    child record;
    dropped integer := 0;
BEGIN
    FOR child IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent::regclass
          AND c.relname ~ ('^' || parent || '_y[0-9]{4}$')
          AND (to_date(right(c.relname, 4), 'YYYY') + interval '1 year')::date <= cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', child.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- For operators: the open days in the old row shape (compacted months are blocks, read through
-- shared.series).
CREATE OR REPLACE VIEW daily_downloads AS
WITH rows AS (
    SELECT d.day, d.package, d.with_mirrors, d.without_mirrors, d.cells || d.details || d.versions AS cells
    FROM downloads_days d
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
