-- The outer check keeps two concurrent polls from delivering one job twice. The pick is a
-- materialized CTE: as an `IN (subquery)` the planner may rescan it per row, and each rescan
-- skips the rows this statement already updated, so more than $2 jobs came back.
WITH picked AS MATERIALIZED (SELECT id FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL
    ORDER BY assigned_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET delivered_at = $3 FROM picked
WHERE jobs.id = picked.id AND jobs.delivered_at IS NULL
RETURNING jobs.*
