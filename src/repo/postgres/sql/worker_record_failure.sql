UPDATE workers SET
    consecutive_failures = consecutive_failures + 1,
    cooldown_until = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE cooldown_until END
WHERE id = $1
