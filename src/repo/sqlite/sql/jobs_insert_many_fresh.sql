-- The batch arrives as one JSON array bound as $1, read as rows, so the text is the same
-- whatever the batch size (one prepared statement, one plan). `WHERE true` lets SQLite parse
-- an upsert after a SELECT.
INSERT INTO jobs (id, status, command, image, file_url, filename, env, required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at, run_at, queued_at, blocked, reason, idempotency_key, pull)
SELECT id, status, command, image, file_url, filename, env, required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at, run_at, queued_at, blocked, reason, idempotency_key, pull
FROM (
  WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1))
  SELECT
    json_extract(item, '$.id') AS id,
    json_extract(item, '$.status') AS status,
    json_extract(item, '$.command') AS command,
    json_extract(item, '$.image') AS image,
    json_extract(item, '$.file_url') AS file_url,
    json_extract(item, '$.filename') AS filename,
    json_extract(item, '$.env') AS env,
    json_extract(item, '$.required_cpu_milli') AS required_cpu_milli,
    json_extract(item, '$.required_ram_mb') AS required_ram_mb,
    json_extract(item, '$.timeout_ms') AS timeout_ms,
    json_extract(item, '$.max_retries') AS max_retries,
    json_extract(item, '$.priority') AS priority,
    json_extract(item, '$.network') AS network,
    json_extract(item, '$.created_at') AS created_at,
    json_extract(item, '$.run_at') AS run_at,
    json_extract(item, '$.queued_at') AS queued_at,
    json_extract(item, '$.blocked') AS blocked,
    json_extract(item, '$.reason') AS reason,
    json_extract(item, '$.idempotency_key') AS idempotency_key,
    json_extract(item, '$.pull') AS pull
  FROM items
) AS v WHERE true
RETURNING id
