UPDATE workers SET
    reserved_cpu_milli = reserved_cpu_milli + $2,
    reserved_ram_mb = reserved_ram_mb + $3,
    running_jobs = running_jobs + $4
WHERE id = $1 AND offline_since IS NULL
    AND reserved_cpu_milli + $2 <= cpu_milli
    AND reserved_ram_mb + $3 <= ram_total_mb
    AND running_jobs + $4 <= max_parallel_jobs
