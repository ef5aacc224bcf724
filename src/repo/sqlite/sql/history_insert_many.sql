INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at, reason, fault,
    cpu_seconds, peak_memory_mb, pull_ms, run_ms)
SELECT h_job, h_attempt, h_from, h_to, h_worker, h_at, h_reason, h_fault,
    h_cpu_seconds, h_peak_memory_mb, h_pull_ms, h_run_ms
FROM (
  WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1))
  SELECT
    json_extract(item, '$.h_job') AS h_job,
    json_extract(item, '$.h_attempt') AS h_attempt,
    json_extract(item, '$.h_from') AS h_from,
    json_extract(item, '$.h_to') AS h_to,
    json_extract(item, '$.h_worker') AS h_worker,
    json_extract(item, '$.h_at') AS h_at,
    json_extract(item, '$.h_reason') AS h_reason,
    json_extract(item, '$.h_fault') AS h_fault,
    json_extract(item, '$.h_cpu_seconds') AS h_cpu_seconds,
    json_extract(item, '$.h_peak_memory_mb') AS h_peak_memory_mb,
    json_extract(item, '$.h_pull_ms') AS h_pull_ms,
    json_extract(item, '$.h_run_ms') AS h_run_ms
  FROM items
) AS v
