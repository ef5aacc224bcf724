UPDATE workers SET offline_since = $2
WHERE id = $1 AND offline_since IS NULL AND last_heartbeat_at < $3
