SELECT COUNT(*) FROM (SELECT 1 FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL LIMIT 1) AS waiting
