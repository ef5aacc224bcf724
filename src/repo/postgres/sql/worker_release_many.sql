UPDATE workers SET
    reserved_cpu_milli = reserved_cpu_milli - $2,
    reserved_ram_mb = reserved_ram_mb - $3,
    running_jobs = running_jobs - $4
WHERE id = $1
