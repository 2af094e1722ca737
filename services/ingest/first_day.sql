-- The first day of a partitioned table: its oldest partition holding rows, read from the
-- dataset's INFORMATION_SCHEMA.PARTITIONS (table metadata: no scan of the data, billed as the
-- 10 MB minimum). Partition ids of a daily-partitioned table are 'YYYYMMDD', so the smallest id
-- is the first day; '__NULL__' and '__UNPARTITIONED__' hold rows without a day.
-- Parameter: @table STRING (the table's name inside the dataset).
-- The raw source runs this same text on DuckDB over a partitions view of the local export.
SELECT MIN(partition_id) AS first_partition
FROM `bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS`
WHERE table_name = @table
  AND partition_id NOT IN ('__NULL__', '__UNPARTITIONED__')
  AND total_rows > 0
