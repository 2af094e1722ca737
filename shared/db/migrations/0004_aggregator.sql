-- Aggregator bookkeeping (owned by services/aggregator).
--
-- Run order: every package-day records the JetStream stream sequence of the message that wrote
-- it, and every complete day the sequence of the manifest that completed it. Stream sequences are
-- assigned by the server in publish order and survive redelivery and replay, so they order runs
-- without trusting run ids or clocks: a redelivered package-day of an older run never overwrites a
-- newer one (see services/aggregator/store.py).
ALTER TABLE package_days ADD COLUMN seq bigint NOT NULL DEFAULT 0;
ALTER TABLE ingest_days ADD COLUMN manifest_seq bigint NOT NULL DEFAULT 0;

-- Refresh planner statistics of one day's partitions (identifiers quoted with format(%I)).
CREATE FUNCTION analyze_day_partitions(d date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent text;
    name text;
    analyzed integer := 0;
BEGIN
    FOREACH parent IN ARRAY ARRAY['daily_downloads', 'package_days'] LOOP
        name := day_partition_name(parent, d);
        IF to_regclass(quote_ident(name)) IS NOT NULL THEN
            EXECUTE format('ANALYZE %I', name);
            analyzed := analyzed + 1;
        END IF;
    END LOOP;
    RETURN analyzed;
END $$;
