UPDATE workers SET cooldown_until = NULL,
    consecutive_failures = 0 WHERE cooldown_until IS NOT NULL AND cooldown_until <= $1
