INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at, reason, fault,
    cpu_seconds, peak_memory_mb, pull_ms, run_ms)
SELECT h_job, h_attempt, h_from, h_to, h_worker, h_at, h_reason, h_fault,
    h_cpu_seconds, h_peak_memory_mb, h_pull_ms, h_run_ms
FROM (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows(
    h_job text,
    h_attempt bigint,
    h_from text,
    h_to text,
    h_worker text,
    h_at bigint,
    h_reason text,
    h_fault text,
    h_cpu_seconds double precision,
    h_peak_memory_mb double precision,
    h_pull_ms bigint,
    h_run_ms bigint)
) AS v
