UPDATE jobs SET status = 'RUNNING', started_at = $4,
    deadline_at = $4 + timeout_ms, delivered_at = COALESCE(delivered_at, $4)
WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND status = 'ASSIGNED'
RETURNING *
