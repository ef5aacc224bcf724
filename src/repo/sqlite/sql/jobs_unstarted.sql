SELECT id FROM jobs
WHERE status = 'ASSIGNED' AND assigned_at <= $1 ORDER BY assigned_at LIMIT $2
