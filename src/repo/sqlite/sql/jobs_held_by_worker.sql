SELECT * FROM jobs
WHERE worker_id = $1 AND status IN ('ASSIGNED', 'RUNNING') ORDER BY assigned_at, id
