SELECT id, required_cpu_milli, required_ram_mb, image FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 AND required_cpu_milli <= $2 AND required_ram_mb <= $3
ORDER BY priority DESC, queued_at, id LIMIT $1
