DELETE FROM job_history WHERE job_id IN (SELECT value FROM json_each($1))
