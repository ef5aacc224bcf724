UPDATE jobs SET status = 'RUNNING', delivered_at = $3, started_at = $3,
    deadline_at = $3 + timeout_ms
WHERE id IN (SELECT id FROM jobs WHERE worker_id = $1 AND status = 'ASSIGNED'
    AND delivered_at IS NULL ORDER BY assigned_at LIMIT $2)
RETURNING *
