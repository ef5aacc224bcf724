SELECT id FROM workers
WHERE offline_since IS NULL AND last_heartbeat_at < $1 ORDER BY last_heartbeat_at LIMIT $2
