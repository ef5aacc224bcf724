-- An assignment is never recorded before the job was queued: a pass reads its clock before
-- it waits for the write lock, and a job created meanwhile may be newer than that.
UPDATE jobs SET status = 'ASSIGNED', worker_id = v.a_worker,
    attempts = jobs.attempts + 1, assigned_at = GREATEST($2, jobs.queued_at),
    delivered_at = NULL, started_at = NULL,
    deadline_at = NULL, reason = NULL
FROM (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows(
    a_job text,
    a_worker text)
) AS v
WHERE jobs.id = v.a_job AND jobs.status = 'QUEUED'
RETURNING id, worker_id, attempts, assigned_at
