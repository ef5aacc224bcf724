UPDATE jobs SET blocked = 0, reason = NULL
WHERE status IN ('QUEUED', 'PENDING') AND blocked = 1
    AND required_cpu_milli <= $1 AND required_ram_mb <= $2
