-- An assignment is never recorded before the job was queued: a pass reads its clock before
-- it waits for the write lock, and a job created meanwhile may be newer than that.
-- The unary `+` before a column keeps SQLite's planner from driving the join from that
-- column's index (it would visit every job in that state for each batch row); it goes by
-- the batch rows and the primary key instead (SQLite's documented hint).
UPDATE jobs SET status = 'ASSIGNED', worker_id = v.a_worker,
    attempts = jobs.attempts + 1, assigned_at = max($2, COALESCE(jobs.queued_at, $2)),
    delivered_at = NULL, started_at = NULL,
    deadline_at = NULL, reason = NULL
FROM (
  WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1))
  SELECT
    json_extract(item, '$.a_job') AS a_job,
    json_extract(item, '$.a_worker') AS a_worker
  FROM items
) AS v
WHERE jobs.id = v.a_job AND +jobs.status = 'QUEUED'
RETURNING id, worker_id, attempts, assigned_at
