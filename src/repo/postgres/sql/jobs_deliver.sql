WITH picked AS MATERIALIZED (SELECT id FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL
    ORDER BY assigned_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET delivered_at = $3 FROM picked
WHERE jobs.id = picked.id AND jobs.delivered_at IS NULL
RETURNING jobs.*
