SELECT json_group_array(json_array(
    id, cpu_milli, ram_total_mb, reserved_cpu_milli, reserved_ram_mb, running_jobs,
    max_parallel_jobs, draining, executor_ok, cooldown_until, images))
FROM (SELECT * FROM workers WHERE offline_since IS NULL ORDER BY id)
