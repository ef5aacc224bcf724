UPDATE jobs SET held_on = NULL, held_attempt = NULL, held_since = NULL, held_until = NULL
WHERE id = $1
