SELECT * FROM job_history WHERE job_id = $1 ORDER BY id
