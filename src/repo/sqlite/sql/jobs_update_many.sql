UPDATE jobs SET
    status = v.status,
    failed_attempts = v.failed_attempts,
    infra_retries = v.infra_retries,
    run_at = v.run_at,
    queued_at = v.queued_at,
    delivered_at = v.delivered_at,
    started_at = v.started_at,
    deadline_at = v.deadline_at,
    finished_at = v.finished_at,
    exit_code = v.exit_code,
    stdout = v.stdout,
    stderr = v.stderr,
    error = v.error,
    duration_ms = v.duration_ms,
    oom_killed = v.oom_killed,
    reason = v.reason,
    blocked = v.blocked,
    phase = v.phase
FROM (
  WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1))
  SELECT
    json_extract(item, '$.u_id') AS u_id,
    json_extract(item, '$.status') AS status,
    json_extract(item, '$.failed_attempts') AS failed_attempts,
    json_extract(item, '$.infra_retries') AS infra_retries,
    json_extract(item, '$.run_at') AS run_at,
    json_extract(item, '$.queued_at') AS queued_at,
    json_extract(item, '$.delivered_at') AS delivered_at,
    json_extract(item, '$.started_at') AS started_at,
    json_extract(item, '$.deadline_at') AS deadline_at,
    json_extract(item, '$.finished_at') AS finished_at,
    json_extract(item, '$.exit_code') AS exit_code,
    json_extract(item, '$.stdout') AS stdout,
    json_extract(item, '$.stderr') AS stderr,
    json_extract(item, '$.error') AS error,
    json_extract(item, '$.duration_ms') AS duration_ms,
    json_extract(item, '$.oom_killed') AS oom_killed,
    json_extract(item, '$.reason') AS reason,
    json_extract(item, '$.blocked') AS blocked,
    json_extract(item, '$.phase') AS phase
  FROM items
) AS v
WHERE jobs.id = v.u_id
