SELECT job_id, attempt, from_status, to_status, at, fault, cpu_seconds, peak_memory_mb
FROM job_history WHERE job_id IN (SELECT value FROM json_each($1))
