SELECT worker_id, id FROM jobs
WHERE status IN ('ASSIGNED', 'RUNNING') ORDER BY assigned_at, id
