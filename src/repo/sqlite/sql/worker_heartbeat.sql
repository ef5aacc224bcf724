UPDATE workers SET cpu_usage = $2, ram_free_mb = $3,
    ram_total_mb = CASE WHEN $4 > 0 THEN $4 ELSE ram_total_mb END, executor_ok = $5,
    last_heartbeat_at = $6, offline_since = NULL, draining = $7,
    images = COALESCE($8, images)
WHERE id = $1
RETURNING *
