-- Writes one rollup row whole (the caller merged it with the stored one).
INSERT INTO job_rollups (
    hour, image, worker_id, status, jobs, attempts,
    retries, worker_faults, job_faults, queue_wait_ms_count, queue_wait_ms_sum, queue_wait_ms_max,
    run_ms_count, run_ms_sum, run_ms_max, cpu_seconds_count, cpu_seconds_sum, cpu_seconds_max,
    peak_memory_mb_count, peak_memory_mb_sum, peak_memory_mb_max, required_ram_mb_count, required_ram_mb_sum, required_ram_mb_max,
    memory_used_pct_count, memory_used_pct_sum, memory_used_pct_max, buckets)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)
ON CONFLICT (hour, image, worker_id, status) DO UPDATE SET
    jobs = excluded.jobs,
    attempts = excluded.attempts,
    retries = excluded.retries,
    worker_faults = excluded.worker_faults,
    job_faults = excluded.job_faults,
    queue_wait_ms_count = excluded.queue_wait_ms_count,
    queue_wait_ms_sum = excluded.queue_wait_ms_sum,
    queue_wait_ms_max = excluded.queue_wait_ms_max,
    run_ms_count = excluded.run_ms_count,
    run_ms_sum = excluded.run_ms_sum,
    run_ms_max = excluded.run_ms_max,
    cpu_seconds_count = excluded.cpu_seconds_count,
    cpu_seconds_sum = excluded.cpu_seconds_sum,
    cpu_seconds_max = excluded.cpu_seconds_max,
    peak_memory_mb_count = excluded.peak_memory_mb_count,
    peak_memory_mb_sum = excluded.peak_memory_mb_sum,
    peak_memory_mb_max = excluded.peak_memory_mb_max,
    required_ram_mb_count = excluded.required_ram_mb_count,
    required_ram_mb_sum = excluded.required_ram_mb_sum,
    required_ram_mb_max = excluded.required_ram_mb_max,
    memory_used_pct_count = excluded.memory_used_pct_count,
    memory_used_pct_sum = excluded.memory_used_pct_sum,
    memory_used_pct_max = excluded.memory_used_pct_max,
    buckets = excluded.buckets
