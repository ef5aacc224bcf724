SELECT id FROM jobs WHERE held_until <= $1 ORDER BY held_until LIMIT $2
