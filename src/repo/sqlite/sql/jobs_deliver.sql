UPDATE jobs SET delivered_at = $3
WHERE id IN (SELECT id FROM jobs WHERE worker_id = $1 AND status = 'ASSIGNED'
    AND delivered_at IS NULL ORDER BY assigned_at LIMIT $2)
RETURNING *
