UPDATE jobs SET stdout = NULL, stderr = NULL
WHERE id IN (SELECT value FROM json_each($1)) AND (stdout IS NOT NULL OR stderr IS NOT NULL)
