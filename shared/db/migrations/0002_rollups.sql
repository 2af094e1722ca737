-- Recent totals anchored on the last complete day D: day = D, week = D-6..D, month = D-29..D,
-- summed from without_mirrors.
CREATE TABLE recent_downloads (
    package    text   NOT NULL,
    period     text   NOT NULL CHECK (period IN ('day', 'week', 'month')),
    downloads  bigint NOT NULL CHECK (downloads >= 0),
    PRIMARY KEY (package, period)
);
CREATE INDEX recent_downloads_top ON recent_downloads (period, downloads DESC);

-- The package index for search (prefix and trigram) and for knowing which packages exist.
CREATE TABLE package_index (
    package    text PRIMARY KEY,
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX package_index_prefix ON package_index (package text_pattern_ops);

-- Fuzzy search uses pg_trgm where the server has it (every packaged PostgreSQL ships it in
-- contrib; the embedded test server does not). Readers check `SELECT search_has_trigrams()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX package_index_trgm ON package_index USING gin (package gin_trgm_ops);
    END IF;
END $$;

CREATE FUNCTION search_has_trigrams() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') $$;

-- The record of complete days: a day is here once every package-day of its run is committed
-- and its rollups are computed.
CREATE TABLE ingest_days (
    day                     date PRIMARY KEY,
    run_id                  text        NOT NULL,
    source                  text        NOT NULL,
    packages                integer     NOT NULL,
    rows                    bigint      NOT NULL,
    downloads_with_mirrors  bigint      NOT NULL,
    completed_at            timestamptz NOT NULL DEFAULT now()
);
