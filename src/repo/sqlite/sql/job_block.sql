UPDATE jobs SET blocked = 1, reason = $2 WHERE id = $1
