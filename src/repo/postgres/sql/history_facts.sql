SELECT job_id, attempt, from_status, to_status, at, fault, cpu_seconds, peak_memory_mb
FROM job_history WHERE job_id IN (SELECT jsonb_array_elements_text($1::jsonb))
