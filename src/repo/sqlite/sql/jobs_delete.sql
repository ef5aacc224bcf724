DELETE FROM jobs WHERE id IN (SELECT value FROM json_each($1)) AND finished_at IS NOT NULL
