UPDATE maintenance_cursors SET finished_at = $2, job_id = $3 WHERE name = $1
