INSERT INTO job_history
    (job_id, attempt, from_status, to_status, worker_id, at, reason, fault)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
