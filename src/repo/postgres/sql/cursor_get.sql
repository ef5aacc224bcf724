SELECT finished_at, job_id FROM maintenance_cursors WHERE name = $1
