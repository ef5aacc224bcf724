SELECT * FROM jobs WHERE held_on = $1 ORDER BY id
