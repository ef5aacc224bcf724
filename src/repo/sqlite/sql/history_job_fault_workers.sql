SELECT worker_id FROM job_history
WHERE job_id = $1 AND fault IN ('job', 'registry') AND worker_id IS NOT NULL
ORDER BY id
