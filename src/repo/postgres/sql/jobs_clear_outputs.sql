UPDATE jobs SET stdout = NULL, stderr = NULL
WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND (stdout IS NOT NULL OR stderr IS NOT NULL)
