UPDATE workers SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0
