UPDATE jobs SET status = 'RUNNING', started_at = $3, deadline_at = $3 + jobs.timeout_ms,
    delivered_at = COALESCE(jobs.delivered_at, $3)
FROM (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows(
    s_job text,
    s_attempt bigint)
) AS v
WHERE jobs.id = v.s_job AND jobs.worker_id = $2 AND jobs.attempts = v.s_attempt
    AND jobs.status = 'ASSIGNED'
RETURNING id, attempts
