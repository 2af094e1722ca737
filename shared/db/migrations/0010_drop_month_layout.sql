-- The history store's move is done (data step of 0009): the month-partitioned `downloads`, whose
-- rows now live in `downloads_days` (and, once compacted, `downloads_months`), goes.

DROP TABLE downloads;
DROP FUNCTION refuse_moved_writes();
