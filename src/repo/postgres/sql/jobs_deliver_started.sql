-- As jobs_deliver.sql (see there for the materialized pick and the outer check), with the
-- start written in the same row version.
WITH picked AS MATERIALIZED (SELECT id FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL
    ORDER BY assigned_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET status = 'RUNNING', delivered_at = $3, started_at = $3,
    deadline_at = $3 + jobs.timeout_ms
FROM picked
WHERE jobs.id = picked.id AND jobs.delivered_at IS NULL AND jobs.status = 'ASSIGNED'
RETURNING jobs.*
