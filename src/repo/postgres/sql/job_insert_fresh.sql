INSERT INTO jobs (id, status, command, image, file_url, filename, env,
    required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at,
    run_at, queued_at, blocked, reason, idempotency_key, pull)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
RETURNING *
