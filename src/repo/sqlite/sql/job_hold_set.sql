UPDATE jobs SET held_on = $2, held_attempt = $3, held_since = $4, held_until = $5
WHERE id = $1
