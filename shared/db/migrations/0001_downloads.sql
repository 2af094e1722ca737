-- Download rows: one long table keyed by (package, dimension, category, day), range-partitioned
-- by day so that retention is dropping whole partitions and one package's history is one index
-- range scan. Only non-zero rows are stored.
CREATE TABLE daily_downloads (
    day        date   NOT NULL,
    package    text   NOT NULL,
    dimension  text   NOT NULL,
    category   text   NOT NULL,
    downloads  bigint NOT NULL CHECK (downloads > 0),
    PRIMARY KEY (package, dimension, category, day)
) PARTITION BY RANGE (day);

-- Which ingest run each package-day currently holds. The aggregator replaces a package-day as a
-- whole, and a manifest is complete when every package-day of its run is recorded here.
CREATE TABLE package_days (
    day         date        NOT NULL,
    package     text        NOT NULL,
    run_id      text        NOT NULL,
    rows        integer     NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, package)
) PARTITION BY RANGE (day);
CREATE INDEX package_days_run ON package_days (day, run_id);

-- Partition helpers. Identifiers are quoted with format(%I); callers pass plain parameters.
CREATE FUNCTION day_partition_name(parent text, d date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT parent || '_p' || to_char(d, 'YYYYMMDD') $$;

CREATE FUNCTION ensure_day_partitions(parent text, first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := first_day;
    created integer := 0;
    name text;
BEGIN
    WHILE d <= last_day LOOP
        name := day_partition_name(parent, d);
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           name, parent, d, d + 1);
            created := created + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END $$;

CREATE FUNCTION drop_day_partitions_before(parent text, cutoff date) RETURNS integer
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
          AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', child.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
