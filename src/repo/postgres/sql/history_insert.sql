INSERT INTO job_history
    (job_id, attempt, from_status, to_status, worker_id, at, reason, fault,
     cpu_seconds, peak_memory_mb, pull_ms, run_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
