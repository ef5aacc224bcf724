-- Not locked: placements run one at a time under the capacity lock, anything else only frees
-- room meanwhile, and the reserving UPDATE re-checks the room.
SELECT COALESCE(json_agg(json_build_array(
    id, cpu_milli, ram_total_mb, reserved_cpu_milli, reserved_ram_mb, running_jobs,
    max_parallel_jobs, draining, executor_ok, cooldown_until, images) ORDER BY id), '[]')::text
FROM workers WHERE offline_since IS NULL
