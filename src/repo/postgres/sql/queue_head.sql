-- Rows another replica is placing are skipped.
SELECT id, required_cpu_milli, required_ram_mb, image FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 ORDER BY priority DESC, queued_at, id LIMIT $1
FOR UPDATE SKIP LOCKED
