-- Placeholder for migration 0013, which another branch of issue 23 adds (migration numbers may
-- have no gaps). It changes nothing; drop this file when that branch's 0013 is merged.
SELECT 1;
