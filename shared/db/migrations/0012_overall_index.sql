-- Overall reads of compacted months from the index alone (shared/series.py): `/overall`, the
-- totals and every overall chart read a package's month rows by (package, month) and need only
-- the month's sums, its days bitmap and its overall block (a few dozen bytes). With them in the
-- index, those reads are index-only scans: no heap page per month (120 for ten years), at about
-- 6 B per package-day on disk (docs/benchmarks.md). Compaction vacuums the months it writes, so
-- their pages are all-visible (shared/db/compaction.py). Readers go on answering while it builds;
-- compaction waits for it.
CREATE INDEX downloads_months_overall ON downloads_months (package, month)
    INCLUDE (with_mirrors, without_mirrors, days, overall);
