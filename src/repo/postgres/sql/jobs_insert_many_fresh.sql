-- The batch arrives as one JSON array bound as $1, read as rows, so the text is the same
-- whatever the batch size (one prepared statement, one plan). `WHERE true` lets SQLite parse
-- an upsert after a SELECT.
INSERT INTO jobs (id, status, command, image, file_url, filename, env, required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at, run_at, queued_at, blocked, reason, idempotency_key, pull)
SELECT id, status, command, image, file_url, filename, env, required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at, run_at, queued_at, blocked, reason, idempotency_key, pull
FROM (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows(
    id text,
    status text,
    command text,
    image text,
    file_url text,
    filename text,
    env text,
    required_cpu_milli bigint,
    required_ram_mb bigint,
    timeout_ms bigint,
    max_retries bigint,
    priority bigint,
    network bigint,
    created_at bigint,
    run_at bigint,
    queued_at bigint,
    blocked bigint,
    reason text,
    idempotency_key text,
    pull text)
) AS v WHERE true
RETURNING id
