UPDATE jobs SET status = 'ASSIGNED', worker_id = v.a_worker,
    attempts = jobs.attempts + 1, assigned_at = $2, delivered_at = NULL, started_at = NULL,
    deadline_at = NULL, reason = NULL
FROM (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows(
    a_job text,
    a_worker text)
) AS v
WHERE jobs.id = v.a_job AND jobs.status = 'QUEUED'
RETURNING id, worker_id, attempts
