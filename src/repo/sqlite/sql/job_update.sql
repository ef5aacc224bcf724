UPDATE jobs SET status = $2, failed_attempts = $3,
    infra_retries = $4, run_at = $5, queued_at = $6, delivered_at = $7, started_at = $8,
    deadline_at = $9, finished_at = $10, exit_code = $11, stdout = $12, stderr = $13, error = $14,
    duration_ms = $15, oom_killed = $16, reason = $17, blocked = $18,
    cpu_seconds = $19, peak_memory_mb = $20, pull_ms = $21, run_ms = $22,
    phase = $23
WHERE id = $1
