SELECT id FROM jobs
WHERE status = 'RUNNING' AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2
