INSERT INTO workers (id, hostname, cpu_milli, ram_total_mb,
    ram_free_mb, cpu_usage, max_parallel_jobs, labels, version, executor, executor_ok,
    token_hash, registered_at, last_heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $12)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, cpu_milli = excluded.cpu_milli,
    ram_total_mb = excluded.ram_total_mb, ram_free_mb = excluded.ram_free_mb,
    cpu_usage = excluded.cpu_usage, max_parallel_jobs = excluded.max_parallel_jobs,
    labels = excluded.labels, version = excluded.version, executor = excluded.executor,
    executor_ok = 1, token_hash = excluded.token_hash, offline_since = NULL, draining = 0,
    registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at
RETURNING *
