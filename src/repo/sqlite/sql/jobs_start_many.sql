-- The unary `+` before a column keeps SQLite's planner from driving the join from that
-- column's index (it would visit every job in that state for each batch row); it goes by
-- the batch rows and the primary key instead (SQLite's documented hint).
UPDATE jobs SET status = 'RUNNING', started_at = $3, deadline_at = $3 + jobs.timeout_ms,
    delivered_at = COALESCE(jobs.delivered_at, $3)
FROM (
  WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1))
  SELECT
    json_extract(item, '$.s_job') AS s_job,
    json_extract(item, '$.s_attempt') AS s_attempt
  FROM items
) AS v
WHERE jobs.id = v.s_job AND +jobs.worker_id = $2 AND jobs.attempts = v.s_attempt
    AND +jobs.status = 'ASSIGNED'
RETURNING id, attempts
