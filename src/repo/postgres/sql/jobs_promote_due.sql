-- The pick is materialized for the reason given in jobs_deliver.sql: at most $2 rows.
WITH due AS MATERIALIZED (SELECT id FROM jobs
    WHERE status = 'PENDING' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET status = 'QUEUED', queued_at = $1,
    reason = CASE WHEN blocked = 1 THEN reason ELSE NULL END
FROM due WHERE jobs.id = due.id
RETURNING jobs.id, jobs.attempts
