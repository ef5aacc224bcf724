INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at, reason, fault)
SELECT h_job, h_attempt, h_from, h_to, h_worker, h_at, h_reason, h_fault
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
    json_extract(item, '$.h_fault') AS h_fault
  FROM items
) AS v
